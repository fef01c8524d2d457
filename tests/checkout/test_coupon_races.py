"""A coupon's limits under concurrent redemption, on PostgreSQL with real commits: never used more than it allows.

Learners press Buy with the same code at the same moment, over HTTP, against an application
whose requests really commit (the rest of the suite's rolled-back transaction would hide the
race). (These tests must not use the `app` fixture.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Coupon, Enrollment, Order, OrderStatus

from ..enrollments.test_access_races import logged_in
from ..factories import (
    CouponFactory,
    CreatorProfileFactory,
    LessonFactory,
    OfferingFactory,
    SectionFactory,
    UserFactory,
)
from ..helpers import committed_application, csrf_token_from
from ..markup import text_of
from ..servers import Loopback


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple]:
    """An application whose requests really commit, served over HTTP; (app, base URL)."""
    with (
        committed_application(tmp_path_factory, "coupons", LOGIN_RATE_LIMIT="1000 per minute") as app,
        Loopback(app) as server,
    ):
        yield app, server.url


def committed(app, *, offerings: int = 1, learners: int, **coupon) -> tuple[list[str], list[str], int]:
    """Offerings by one creator, a coupon of theirs and learners, committed; (slugs, learner e-mails, coupon id)."""
    with app.test_request_context():
        creator = CreatorProfileFactory()
        made = [OfferingFactory(creator=creator, price_cents=6000) for _ in range(offerings)]
        for offering in made:
            LessonFactory(section=SectionFactory(offering=offering))
        people = [UserFactory() for _ in range(learners)]
        code = CouponFactory(creator=creator, **coupon)
        db.session.commit()
        found = [o.slug for o in made], [p.email for p in people], code.id
        db.session.remove()
        return found


def press_buy_together(base: str, presses: list[tuple[requests.Session, str, str]]) -> list[str]:
    """Each (browser, slug, code) presses Buy at the same moment; what each was told, in order."""
    ready = []
    for browser, slug, _ in presses:
        ready.append(csrf_token_from(browser.get(f"{base}/courses/{slug}", timeout=10).text))
    start = threading.Barrier(len(presses))

    def press(index: int) -> str:
        browser, slug, code = presses[index]
        start.wait(timeout=30)
        answer = browser.post(
            f"{base}/courses/{slug}/checkout",
            data={"csrf_token": ready[index], "coupon": code},
            allow_redirects=True,
            timeout=60,
        )
        return text_of(answer.text)

    with ThreadPoolExecutor(len(presses)) as pool:
        return list(pool.map(press, range(len(presses))))


def orders_with(app, coupon_id: int) -> list[Order]:
    with app.app_context():
        found = list(db.session.scalars(sa.select(Order).where(Order.coupon_id == coupon_id)))
        db.session.expunge_all()
        db.session.remove()
        return found


def test_eight_learners_at_once_on_a_code_for_three_get_three_discounts(live):
    app, base = live
    (slug,), emails, coupon_id = committed(app, learners=8, code="FIRST3", max_redemptions=3)
    presses = [(logged_in(base, email), slug, "FIRST3") for email in emails]

    told = press_buy_together(base, presses)

    orders = orders_with(app, coupon_id)
    assert len(orders) == 3
    assert all(o.status is OrderStatus.PENDING and o.discount_cents == 1500 for o in orders)
    assert sum("used as many times as it allows" in page for page in told) == 5


def test_one_learner_on_two_offerings_at_once_with_a_once_per_learner_code_uses_it_once(live):
    app, base = live
    slugs, (email,), coupon_id = committed(app, offerings=2, learners=1, code="ONCEEACH", max_per_learner=1)
    first, second = logged_in(base, email), logged_in(base, email)

    told = press_buy_together(base, [(first, slugs[0], "ONCEEACH"), (second, slugs[1], "ONCEEACH")])

    assert len(orders_with(app, coupon_id)) == 1
    assert sum("You have a checkout open with the code ONCEEACH for another offering." in page for page in told) == 1


def test_six_learners_at_once_on_a_100_percent_code_for_two_enrol_two(live):
    app, base = live
    (slug,), emails, coupon_id = committed(app, learners=6, code="GUESTS2", percent_off=100, max_redemptions=2)
    presses = [(logged_in(base, email), slug, "GUESTS2") for email in emails]

    press_buy_together(base, presses)

    orders = orders_with(app, coupon_id)
    assert len(orders) == 2 and all(o.status is OrderStatus.PAID and o.amount_cents == 0 for o in orders)
    with app.app_context():
        enrolled = db.session.scalar(
            sa.select(sa.func.count(Enrollment.id)).where(Enrollment.order_id.in_([o.id for o in orders]))
        )
        assert db.session.get(Coupon, coupon_id).max_redemptions == 2
        db.session.remove()
    assert enrolled == 2
