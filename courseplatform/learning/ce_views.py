"""Continuing-education steps and certificates for learners (routes on the learning blueprint)."""

from . import bp  # noqa: F401
