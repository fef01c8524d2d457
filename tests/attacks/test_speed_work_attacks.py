"""Attacks on this week's speed work (the shared page cache, the running totals) that found a defect,
each kept as its test.

The page cache runs in the local Redis as in production; the totals are compared with a recount
of the rows they follow, after the change a piece of code could make.
"""

from __future__ import annotations

from courseplatform.extensions import db
from courseplatform.models.base import utcnow

from ..factories import UserFactory
from ..test_running_totals import kept_totals, recounted_totals

# ---------------------------------------------------------------------------
# Running totals: an account let back in without its suspension read first


def test_letting_an_account_back_in_without_reading_it_first_moves_the_suspended_count(app):
    user = UserFactory(suspended_at=utcnow())
    db.session.commit()
    db.session.expire_all()  # as after any commit: the next write doesn't read the old value

    user.suspended_at = None
    db.session.commit()

    assert kept_totals()["platform_stats"] == recounted_totals()["platform_stats"]
