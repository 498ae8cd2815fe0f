"""Who may do what: accounts with argon2 passwords and roles, studio login sessions, API keys,
login rate limits, and the gate that turns a request's credentials into a ``Principal``.

One module each: ``roles`` (roles, principals, the checks), ``passwords`` (argon2),
``users`` (accounts), ``sessions`` (studio logins), ``apikeys`` (``plait_<id>_<secret>``
keys), ``ratelimit`` (failed logins per account and per address), ``gate`` (local mode or
login, and the credentials of a request).
"""

from runtime.auth.roles import (
    LOCAL,
    ROLES,
    Forbidden,
    Need,
    Principal,
    Role,
    Unauthenticated,
    check_role,
    require,
)

__all__ = [
    "LOCAL",
    "ROLES",
    "Forbidden",
    "Need",
    "Principal",
    "Role",
    "Unauthenticated",
    "check_role",
    "require",
]
