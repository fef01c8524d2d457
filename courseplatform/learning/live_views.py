"""Live sessions for enrolled learners: calendar files, the join link and replays."""

from . import bp  # noqa: F401
