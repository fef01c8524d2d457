"""One learner in detail for the creator: progress, quiz results, evaluation and certificate."""

from . import bp  # noqa: F401
