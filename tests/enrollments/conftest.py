"""The studio's creator and offering fixtures, shared with the learner-list tests."""

from ..studio.test_learners import creator, offering  # noqa: F401
