"""Session income routes under /studio/sessions."""

from . import bp  # noqa: F401
