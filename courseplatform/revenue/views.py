"""The revenue view under /studio/revenue."""

from . import bp  # noqa: F401
