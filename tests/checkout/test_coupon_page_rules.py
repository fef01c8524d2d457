"""What the offering's page says about a code: its last day, tries rate-limited, and the code kept on the way back."""

from __future__ import annotations

import re
from datetime import date

from courseplatform.studio.coupons.services import end_of_day

from ..factories import CouponFactory, CreatorProfileFactory
from ..markup import text_of
from .test_test_mode_checkout import offering_with_lesson


def test_a_shared_link_shows_the_last_day_the_creator_chose(client):
    """The creator (in Los Angeles) picks Dec 31 as the last day; the studio and the 'has expired'
    message both say Dec 31, but a visitor without an account (no zone: UTC) is told Jan 1."""
    creator = CreatorProfileFactory(user__time_zone="America/Los_Angeles")
    course, _ = offering_with_lesson(creator=creator, price_cents=12000)
    CouponFactory(creator=creator, code="NEWYEAR", expires_at=end_of_day(date(2030, 12, 31), "America/Los_Angeles"))

    shown = text_of(client.get(f"/courses/{course.slug}?coupon=NEWYEAR").get_data(as_text=True))

    (terms,) = re.findall(r"Code NEWYEAR : [^.]*\.", shown)
    assert "last day Dec 31, 2030" in terms, terms


def test_guessing_codes_on_the_page_is_rate_limited_as_certificate_numbers_are(client):
    """Codes may be two characters; the page tells a code that exists ('doesn't apply', 'has expired',
    'no longer active', 'used as many times') from one that doesn't, with no limit on tries."""
    creator = CreatorProfileFactory()
    course, _ = offering_with_lesson(creator=creator, price_cents=12000)

    statuses = [client.get(f"/courses/{course.slug}?coupon=G{n:03d}").status_code for n in range(200)]

    assert 429 in statuses, set(statuses)


def test_a_shared_link_to_a_pay_what_you_can_offering_says_the_code_doesnt_apply(client):
    """An all-offerings code's link works 'after any offering's address' (the studio says so). On a
    pay-what-you-can page the code is dropped without a word: no discount, no message, no hidden field,
    while the Buy button (given the code) would answer "codes don't apply"."""
    creator = CreatorProfileFactory()
    sliding, _ = offering_with_lesson(creator=creator, price_cents=8000, sliding_scale_min_cents=2000)
    CouponFactory(creator=creator, code="HALF", percent_off=50)

    shown = text_of(client.get(f"/courses/{sliding.slug}?coupon=HALF").get_data(as_text=True))

    assert "codes don't apply" in shown


def test_coming_back_from_a_checkout_without_paying_keeps_the_code(client, web):
    """Buy keeps the code through a refusal or a log-in (`offering_page` carries ?coupon=); Decline on the
    test checkout and Stripe's cancel_url send the learner to the bare page, where it's gone."""
    from ..factories import PASSWORD, UserFactory
    from .test_test_mode_checkout import buy, orders_of, pay

    creator = CreatorProfileFactory()
    course, _ = offering_with_lesson(creator=creator, price_cents=12000)
    CouponFactory(creator=creator, code="WELCOME25")
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, course, coupon="WELCOME25")
    (order,) = orders_of(learner)

    declined = pay(client, order, choice="decline")

    assert "coupon=WELCOME25" in declined.headers["Location"], declined.headers["Location"]


def test_cancelling_on_stripe_brings_the_learner_back_with_the_code(web, client, stripe_api, connected_offering):
    from ..factories import PASSWORD, UserFactory
    from .test_stripe_checkout import buy, orders_of

    CouponFactory(creator=connected_offering.creator, code="WELCOME25")
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, connected_offering, coupon="WELCOME25")
    (order,) = orders_of(learner)

    back = client.get(f"/checkout/cancel?order={order.id}")

    assert "coupon=WELCOME25" in back.headers["Location"], back.headers["Location"]
