""" "Make the code" pressed twice at once (a double click, two tabs) makes one code and no error page.

On PostgreSQL with real commits: the insert is under a savepoint, and the unique index's refusal
is the form's "You already have a code". (This test must not use the `app` fixture.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Coupon

from ..enrollments.test_access_races import logged_in
from ..factories import CreatorProfileFactory
from ..helpers import committed_application, csrf_token_from
from ..servers import Loopback

PRESSES = 8
ROUNDS = 4


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple]:
    """An application whose requests really commit, served over HTTP; (app, base URL)."""
    with (
        committed_application(tmp_path_factory, "coupon_create", LOGIN_RATE_LIMIT="1000 per minute") as app,
        Loopback(app) as server,
    ):
        yield app, server.url


def test_make_the_code_pressed_twice_at_once_makes_one_code_and_no_error_page(live):
    app, base = live
    with app.test_request_context():
        creator = CreatorProfileFactory()
        db.session.commit()
        email, creator_id = creator.user.email, creator.id
        db.session.remove()
    browsers = [logged_in(base, email) for _ in range(PRESSES)]
    tokens = [csrf_token_from(b.get(f"{base}/studio/coupons", timeout=10).text) for b in browsers]
    codes = [f"LAUNCH{n}" for n in range(ROUNDS)]

    def press(index: int, code: str, start: threading.Barrier) -> int:
        start.wait(timeout=30)
        answer = browsers[index].post(
            f"{base}/studio/coupons",
            data={
                "csrf_token": tokens[index],
                "code": code,
                "kind": "percent",
                "percent_off": "20",
                "scope": "all",
                "max_per_learner": "1",
            },
            allow_redirects=False,
            timeout=60,
        )
        return answer.status_code

    statuses: list[int] = []
    for code in codes:  # a few rounds: the window is a few milliseconds wide
        start = threading.Barrier(PRESSES)
        with ThreadPoolExecutor(PRESSES) as pool:
            statuses += list(pool.map(lambda i, c=code, s=start: press(i, c, s), range(PRESSES)))

    with app.app_context():
        made = db.session.scalar(sa.select(sa.func.count(Coupon.id)).where(Coupon.creator_id == creator_id))
        db.session.remove()
    assert made == ROUNDS
    assert 500 not in statuses, statuses
