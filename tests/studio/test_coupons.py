"""The studio's Coupons page: making codes, refusing bad ones, what each has done, archiving."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Coupon, CouponKind, OrderStatus

from ..factories import PASSWORD, CouponFactory, CreatorProfileFactory, OfferingFactory, OrderFactory, UserFactory
from ..markup import text_of


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__time_zone="America/New_York")
    web.login(profile.user.email, PASSWORD)
    return profile


def make(web, **fields):
    data = {"kind": "percent", "scope": "all", "max_per_learner": "1", **fields}
    return web.submit("/studio/coupons", data, form_url="/studio/coupons", follow_redirects=False)


def coupons_of(profile) -> list[Coupon]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Coupon).where(Coupon.creator_id == profile.id).order_by(Coupon.id)))


def test_a_percent_code_for_two_offerings_with_an_end_and_limits(web, creator):
    first = OfferingFactory(creator=creator, title="Grounding", price_cents=9000)
    second = OfferingFactory(creator=creator, title="Sleep", price_cents=5000)
    OfferingFactory(creator=creator, title="Free intro", price_cents=0)

    answer = make(
        web,
        code=" spring-26 ",
        percent_off="20",
        scope="selected",
        offering_ids=[str(first.id), str(second.id)],
        last_day="2026-12-31",
        max_redemptions="50",
        max_per_learner="2",
    )

    assert answer.status_code == 302
    (coupon,) = coupons_of(creator)
    assert (coupon.code, coupon.kind, coupon.percent_off, coupon.all_offerings) == (
        "SPRING-26",
        CouponKind.PERCENT,
        20,
        False,
    )
    assert {o.title for o in coupon.offerings} == {"Grounding", "Sleep"}
    # Midnight at the end of Dec 31 in New York.
    assert coupon.expires_at == datetime(2027, 1, 1, 5, 0, tzinfo=UTC)
    assert (coupon.max_redemptions, coupon.max_per_learner) == (50, 2)
    page = text_of(web.client.get("/studio/coupons").get_data(as_text=True))
    assert "SPRING-26" in page and "20 % off" in page and "last day Dec 31, 2026" in page
    assert "Grounding, Sleep" in page and "0 of 50" in page
    assert f"/courses/{first.slug}?coupon=SPRING-26" in page


def test_an_amount_code_is_in_the_creators_currency(web, creator):
    make(web, code="TENOFF", kind="amount", amount_off_cents="10.50")

    (coupon,) = coupons_of(creator)
    assert (coupon.kind, coupon.amount_off_cents, coupon.currency, coupon.percent_off) == (
        CouponKind.AMOUNT,
        1050,
        creator.currency,
        None,
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"code": ""}, "Enter a code."),
        ({"code": "a"}, "2 to 32 letters"),
        ({"code": "TEN\x00OFF"}, None),
        ({"code": "<b>HI</b>"}, "2 to 32 letters"),
        ({"code": "X" * 33}, "2 to 32 letters"),
        ({"code": "OK1", "percent_off": "0"}, "Enter a percentage from 1 to 100."),
        ({"code": "OK2", "percent_off": "101"}, "Enter a percentage from 1 to 100."),
        ({"code": "OK3", "percent_off": "1e3"}, "Enter a whole number."),
        ({"code": "OK4", "percent_off": "9" * 400}, "far too large"),
        ({"code": "OK5", "kind": "amount", "amount_off_cents": "-5"}, None),
        ({"code": "OK6", "kind": "amount", "amount_off_cents": "NaN"}, None),
        ({"code": "OK7", "kind": "amount", "amount_off_cents": "0"}, "above zero"),
        ({"code": "OK8", "percent_off": "10", "scope": "selected"}, "Tick at least one offering"),
        ({"code": "OK9", "percent_off": "10", "last_day": "99999-01-01"}, None),
        ({"code": "OKA", "percent_off": "10", "max_redemptions": "0"}, "from 1 to"),
        ({"code": "OKB", "percent_off": "10", "max_redemptions": str(2**40)}, None),
        ({"code": "OKC", "percent_off": "10", "kind": "bogus"}, None),
        ({"code": "OKD", "percent_off": "10", "scope": "selected", "offering_ids": "987654321"}, None),
    ],
)
def test_a_bad_code_is_refused_with_a_message_and_nothing_is_made(web, creator, fields, message):
    answer = make(web, **({"percent_off": "10"} | fields))

    assert answer.status_code == 400
    if message:
        assert message in text_of(answer.get_data(as_text=True))
    assert coupons_of(creator) == []


def test_another_creators_offering_cant_be_chosen(web, creator):
    theirs = OfferingFactory(price_cents=5000)

    answer = make(web, code="SNEAKY", percent_off="50", scope="selected", offering_ids=str(theirs.id))

    assert answer.status_code == 400
    assert coupons_of(creator) == []


def test_a_code_is_unique_per_creator_whatever_its_case_but_two_creators_may_share_one(web, creator):
    CouponFactory(code="WELCOME")  # another creator's
    make(web, code="welcome", percent_off="10")

    again = make(web, code="Welcome", percent_off="15")

    assert again.status_code == 400
    assert "You already have a code WELCOME" in text_of(again.get_data(as_text=True))
    assert [c.percent_off for c in coupons_of(creator)] == [10]


def test_the_list_shows_uses_discounts_and_what_was_paid(web, creator):
    offering = OfferingFactory(creator=creator, price_cents=10000)
    coupon = CouponFactory(creator=creator, code="USED", max_redemptions=10)
    for status in (OrderStatus.PAID, OrderStatus.REFUNDED, OrderStatus.FAILED):
        OrderFactory(offering=offering, coupon=coupon, amount_cents=7500, discount_cents=2500, status=status)

    page = text_of(web.client.get("/studio/coupons").get_data(as_text=True))

    # Two uses (a refund doesn't give one back; a failed checkout never used it), $50 taken off, $150 paid.
    assert "2 of 10" in page and "$50" in page and "$150 paid" in page


def test_archiving_stops_a_code_and_only_its_owner_can(web, creator, client):
    offering = OfferingFactory(creator=creator, price_cents=10000)
    mine = CouponFactory(creator=creator, code="STOPME")
    theirs = CouponFactory(code="NOTYOURS")

    refused = web.submit(f"/studio/coupons/{theirs.id}/archive", {}, form_url="/studio/coupons")
    archived = web.submit(f"/studio/coupons/{mine.id}/archive", {}, form_url="/studio/coupons")

    assert refused.status_code == 404
    assert "The code STOPME no longer works" in text_of(archived.get_data(as_text=True))
    db.session.expire_all()
    assert mine.archived_at is not None and theirs.archived_at is None
    web.logout()
    web.login(UserFactory().email, PASSWORD)
    shown = text_of(client.get(f"/courses/{offering.slug}?coupon=STOPME").get_data(as_text=True))
    assert "The code STOPME is no longer active." in shown


def test_a_learner_is_sent_to_become_a_creator(web, client):
    web.login(UserFactory().email, PASSWORD)

    assert client.get("/studio/coupons").headers["Location"] == "/become-a-creator"


def test_the_last_day_is_shown_on_the_creators_calendar():
    from courseplatform.checkout.coupons import last_day
    from courseplatform.studio.coupons.services import end_of_day

    stops = end_of_day(date(2026, 3, 8), "America/New_York")  # the day the clocks go forward

    assert last_day(stops, "America/New_York") == "Mar 8, 2026"
