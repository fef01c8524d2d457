"""Attendance at live sessions: entered by hand or imported from a meeting platform."""

from . import bp  # noqa: F401
