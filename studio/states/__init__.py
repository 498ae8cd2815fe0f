"""One small Reflex state per page; they call ``studio.logic`` and the runtime."""
