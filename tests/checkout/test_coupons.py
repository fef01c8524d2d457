"""Coupons in test mode: the shared link, the "Have a code?" box, the Buy button, the limits and 100 % codes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from courseplatform.extensions import db
from courseplatform.models import CouponKind, EnrollmentStatus, OfferingKind, OrderStatus, utcnow

from ..factories import PASSWORD, CouponFactory, CreatorProfileFactory, UserFactory
from ..factories.live import live_session
from ..markup import text_of
from .test_test_mode_checkout import buy, enrollment_of, offering_with_lesson, orders_of, pay


@pytest.fixture
def creator():
    return CreatorProfileFactory(display_name="Dr. Mara Quinn")


@pytest.fixture
def course(creator):
    offering, _ = offering_with_lesson(creator=creator, price_cents=12000, title="Grounding skills")
    return offering


def logged_in_learner(web, **kwargs):
    learner = UserFactory(**kwargs)
    web.login(learner.email, PASSWORD)
    return learner


def page(client, offering, code: str | None) -> str:
    query = f"?coupon={code}" if code is not None else ""
    return text_of(client.get(f"/courses/{offering.slug}{query}").get_data(as_text=True))


def test_a_shared_link_shows_the_lower_price_and_buying_charges_it_with_the_fee_on_it(client, web, course, mailbox):
    CouponFactory(creator=course.creator, code="WELCOME25", percent_off=25)
    learner = logged_in_learner(web)

    shown = page(client, course, "welcome25")
    answer = buy(web, course, coupon="WELCOME25")

    assert "Usually $120 $90" in shown
    assert "Code WELCOME25 : 25 % off" in shown
    assert answer.status_code == 303
    (order,) = orders_of(learner)
    assert (order.amount_cents, order.discount_cents, order.list_price_cents) == (9000, 3000, 12000)
    assert order.coupon.code == "WELCOME25"
    assert order.platform_fee_cents == 900  # 10 % of what is paid, not of the list price
    pay(client, order)
    db.session.refresh(order)
    assert order.status is OrderStatus.PAID
    assert order.net_cents == 9000 - order.processor_fee_cents - 900
    receipt = mailbox.last_body()
    assert "$90" in receipt and "WELCOME25" in receipt and "$120" in receipt


def test_a_fixed_amount_code_typed_in_the_box_takes_that_off(client, web, course):
    CouponFactory(creator=course.creator, code="TWENTY", amount=True, amount_off_cents=2000)
    learner = logged_in_learner(web)

    shown = page(client, course, " twenty ")
    buy(web, course, coupon="twenty")

    assert "Usually $120 $100" in shown and "$20 off" in shown
    (order,) = orders_of(learner)
    assert (order.amount_cents, order.discount_cents) == (10000, 2000)


def test_a_100_percent_code_enrols_at_once_with_a_zero_order_and_no_fee(client, web, course, mailbox):
    CouponFactory(creator=course.creator, code="COLLEAGUE", percent_off=100)
    learner = logged_in_learner(web)

    shown = page(client, course, "COLLEAGUE")
    answer = buy(web, course, coupon="COLLEAGUE")

    assert "Usually $120 Free" in shown and "Enroll with this code" in shown
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/learn/{course.slug}")
    (order,) = orders_of(learner)
    assert order.status is OrderStatus.PAID
    assert (order.amount_cents, order.discount_cents, order.platform_fee_cents, order.processor_fee_cents) == (
        0,
        12000,
        0,
        0,
    )
    assert order.charge_id is None
    enrollment = enrollment_of(learner, course)
    assert enrollment.status is EnrollmentStatus.ACTIVE and enrollment.order_id == order.id
    assert "Your receipt for Grounding skills" in [m["Subject"] for m in mailbox.messages]


@pytest.mark.parametrize(
    ("coupon", "message"),
    [
        ({"code": "OLD", "expires_at": utcnow() - timedelta(days=1)}, "The code OLD has expired"),
        ({"code": "GONE", "archived_at": utcnow()}, "The code GONE is no longer active."),
        # A code for other offerings reads as no code at all here, so trying codes on a page tells nothing.
        ({"code": "EUROS", "amount": True, "currency": "EUR"}, "There's no code EUROS for this offering."),
        ({"code": "OTHERS", "all_offerings": False}, "There's no code OTHERS for this offering."),
    ],
)
def test_a_code_that_cant_be_used_says_why_and_buying_with_it_charges_nothing(client, web, course, coupon, message):
    CouponFactory(creator=course.creator, **coupon)
    learner = logged_in_learner(web)

    shown = page(client, course, coupon["code"])
    answer = buy(web, course, coupon=coupon["code"])

    assert message in shown
    assert "Usually" not in shown and "$120" in shown
    assert answer.status_code == 302 and f"coupon={coupon['code']}" in answer.headers["Location"]
    assert message in text_of(client.get(answer.headers["Location"]).get_data(as_text=True))
    assert orders_of(learner) == []


def test_another_creators_code_is_unknown_here(client, web, course):
    CouponFactory(code="THEIRS")  # another creator's
    learner = logged_in_learner(web)

    shown = page(client, course, "THEIRS")
    buy(web, course, coupon="THEIRS")

    assert "There's no code THEIRS for this offering" in shown
    assert orders_of(learner) == []


@pytest.mark.parametrize("typed", ["<script>", "A" * 33, "WELCOME\x0025", "ÜBER", "-X", "a b"])
def test_a_malformed_code_is_refused_without_a_sale_at_full_price(client, web, course, typed):
    learner = logged_in_learner(web)

    shown = client.get(f"/courses/{course.slug}", query_string={"coupon": typed})
    answer = buy(web, course, coupon=typed)

    assert shown.status_code in (200, 400)
    if shown.status_code == 200:
        assert "That isn't a code we know" in text_of(shown.get_data(as_text=True))
        assert "<script>" not in shown.get_data(as_text=True).split("</header>", 1)[-1].replace("&lt;script&gt;", "")
    assert answer.status_code in (302, 400)
    assert orders_of(learner) == []


def test_codes_dont_apply_to_pay_what_you_can_or_free_offerings(client, web, creator):
    sliding, _ = offering_with_lesson(creator=creator, price_cents=8000, sliding_scale_min_cents=2000)
    free, _ = offering_with_lesson(creator=creator, price_cents=0)
    CouponFactory(creator=creator, code="HALF", percent_off=50)
    learner = logged_in_learner(web)

    refused = buy(web, sliding, coupon="HALF", amount="80")
    told = text_of(client.get(refused.headers["Location"]).get_data(as_text=True))
    buy(web, free, coupon="HALF")

    assert "codes don't apply" in told
    assert orders_of(learner) == []
    assert enrollment_of(learner, free).status is EnrollmentStatus.ACTIVE


def test_a_code_for_selected_offerings_works_on_those_only(client, web, creator, course):
    other, _ = offering_with_lesson(creator=creator, price_cents=5000, title="Other")
    coupon = CouponFactory(creator=creator, code="ONLYTHIS", all_offerings=False)
    coupon.offerings = [course]
    db.session.flush()
    learner = logged_in_learner(web)

    buy(web, other, coupon="ONLYTHIS")
    buy(web, course, coupon="ONLYTHIS")

    (order,) = orders_of(learner)
    assert order.offering_id == course.id and order.discount_cents == 3000


def test_the_per_learner_limit_counts_offerings_not_repeated_presses_of_buy(client, web, creator, course):
    second, _ = offering_with_lesson(creator=creator, price_cents=4000, title="Second")
    CouponFactory(creator=creator, code="ONCE", max_per_learner=1)
    learner = logged_in_learner(web)

    buy(web, course, coupon="ONCE")
    buy(web, course, coupon="ONCE")  # the same checkout again: reused, not a second use
    refused = buy(web, second, coupon="ONCE")

    assert len(orders_of(learner)) == 1
    told = text_of(client.get(refused.headers["Location"]).get_data(as_text=True))
    assert "You have a checkout open with the code ONCE for another offering." in told
    pay(client, orders_of(learner)[0])
    refused = buy(web, second, coupon="ONCE")
    told = text_of(client.get(refused.headers["Location"]).get_data(as_text=True))
    assert "You've already used the code ONCE." in told
    assert len(orders_of(learner)) == 1


def test_the_total_limit_counts_checkouts_holding_a_use_and_frees_it_when_they_lapse(client, web, course):
    CouponFactory(creator=course.creator, code="FIRSTTWO", max_redemptions=2)
    first, second = UserFactory(), UserFactory()
    for learner in (first, second):
        web.login(learner.email, PASSWORD)
        buy(web, course, coupon="FIRSTTWO")
        web.logout()
    third = logged_in_learner(web)

    refused = buy(web, course, coupon="FIRSTTWO")
    assert "used as many times as it allows" in text_of(client.get(refused.headers["Location"]).get_data(as_text=True))
    assert orders_of(third) == []

    lapsed = orders_of(second)[0]
    lapsed.expires_at = utcnow() - timedelta(minutes=1)
    db.session.flush()
    buy(web, course, coupon="FIRSTTWO")
    (order,) = orders_of(third)
    assert order.discount_cents == 3000


def test_a_refund_does_not_give_a_use_back(client, web, course):
    CouponFactory(creator=course.creator, code="JUSTONE", max_redemptions=1)
    first = logged_in_learner(web)
    buy(web, course, coupon="JUSTONE")
    (order,) = orders_of(first)
    pay(client, order)
    order.status = OrderStatus.REFUNDED
    order.refunded_cents = order.amount_cents
    db.session.flush()
    web.logout()
    second = logged_in_learner(web)

    buy(web, course, coupon="JUSTONE")

    assert orders_of(second) == []


def test_the_last_seat_of_a_workshop_is_still_the_last_with_a_100_percent_code(client, web, creator):
    workshop, _ = offering_with_lesson(creator=creator, price_cents=6000, kind=OfferingKind.LIVE_WORKSHOP)
    live_session(workshop, days=7, capacity=1)
    CouponFactory(creator=creator, code="FREEPASS", percent_off=100, max_per_learner=None)
    logged_in_learner(web)
    buy(web, workshop, coupon="FREEPASS")
    web.logout()
    late = logged_in_learner(web)

    buy(web, workshop, coupon="FREEPASS")

    assert orders_of(late) == []
    assert enrollment_of(late, workshop) is None


def test_logging_in_from_a_shared_link_keeps_the_code(client, web, course):
    CouponFactory(creator=course.creator, code="WELCOME25")
    learner = UserFactory()

    answer = buy(web, course, coupon="WELCOME25")
    assert answer.status_code == 302
    landed = web.submit(
        answer.headers["Location"],
        {"email": learner.email, "password": PASSWORD},
        follow_redirects=False,
    )

    assert "coupon=WELCOME25" in landed.headers["Location"]
    assert "Usually $120 $90" in text_of(client.get(landed.headers["Location"]).get_data(as_text=True))


def test_coupon_kinds_take_off_at_most_the_price():
    coupon = CouponFactory.build(kind=CouponKind.AMOUNT, percent_off=None, amount_off_cents=50_000, currency="USD")
    assert coupon.discount_cents(12_000) == 12_000
    rounded = CouponFactory.build(percent_off=33)
    assert rounded.discount_cents(999) == 330  # 329.67, rounded half up


def test_the_ledger_the_revenue_view_and_the_receipt_show_list_price_discount_and_paid(client, web, course):
    CouponFactory(creator=course.creator, code="WELCOME25", percent_off=25)
    learner = logged_in_learner(web)
    buy(web, course, coupon="WELCOME25")
    (order,) = orders_of(learner)
    pay(client, order)
    receipt = text_of(client.get(f"/account/orders/{order.id}").get_data(as_text=True))
    web.logout()
    web.login(course.creator.user.email, PASSWORD)

    ledger = text_of(client.get("/studio/payouts").get_data(as_text=True))
    revenue = text_of(client.get("/studio/revenue").get_data(as_text=True))

    assert "Price $120 Discount (code WELCOME25) −$30 Paid $90" in receipt
    assert "$90 of $120, $30 off with WELCOME25" in ledger
    assert "$120 at list prices, less $30 taken off with codes" in ledger
    assert "$90 of $120 list; $30 off with codes" in revenue
