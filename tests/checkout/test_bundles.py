"""Bundles: one order, one enrollment per offering, and refunds and disputes that act on all of them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from courseplatform.checkout.services import Reversal, refund_order, reverse_payment
from courseplatform.extensions import db
from courseplatform.models import (
    Enrollment,
    EnrollmentStatus,
    OfferingKind,
    OfferingStatus,
    Order,
    OrderStatus,
    bundle_items,
)

from ..factories import PASSWORD, CouponFactory, CreatorProfileFactory, EnrollmentFactory, UserFactory
from ..markup import text_of
from .test_test_mode_checkout import buy, offering_with_lesson, orders_of, pay


@pytest.fixture
def creator():
    return CreatorProfileFactory(display_name="Dr. Mara Quinn")


def make_bundle(creator, *items, price_cents=9900, status=OfferingStatus.PUBLISHED):
    bundle, _ = offering_with_lesson(
        creator=creator, kind=OfferingKind.BUNDLE, price_cents=price_cents, title="The starter kit", status=status
    )
    db.session.execute(
        sa.insert(bundle_items), [{"bundle_id": bundle.id, "item_id": o.id, "position": n} for n, o in enumerate(items)]
    )
    db.session.flush()
    db.session.expire(bundle, ["bundle_offerings"])
    return bundle


@pytest.fixture
def bundle(creator):
    first, _ = offering_with_lesson(creator=creator, price_cents=6000, title="Grounding")
    second, _ = offering_with_lesson(
        creator=creator, price_cents=7000, title="Sleep", kind=OfferingKind.RECORDED_WORKSHOP
    )
    return make_bundle(creator, first, second)


def access(learner) -> dict[str, tuple[EnrollmentStatus, int | None]]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Enrollment).where(Enrollment.user_id == learner.id))
    return {e.offering.title: (e.status, e.order_id) for e in rows}


def bought(client, web, bundle, learner=None):
    learner = learner or UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, bundle)
    (order,) = [o for o in orders_of(learner) if o.offering_id == bundle.id]
    pay(client, order)
    db.session.refresh(order)
    return learner, order


def test_the_page_lists_what_the_bundle_holds_and_what_it_saves(client, bundle):
    page = text_of(client.get(f"/courses/{bundle.slug}").get_data(as_text=True))

    assert "2 offerings · $130 bought one by one" in page
    assert "Grounding" in page and "Sleep" in page
    assert "Together for $99 instead of $130: you save $31." in page


def test_buying_a_bundle_is_one_order_and_an_enrollment_in_each_offering(client, web, bundle, mailbox):
    learner, order = bought(client, web, bundle)

    assert order.status is OrderStatus.PAID and order.amount_cents == 9900
    assert access(learner) == {
        "Grounding": (EnrollmentStatus.ACTIVE, order.id),
        "Sleep": (EnrollmentStatus.ACTIVE, order.id),
    }
    assert client.get(f"/checkout/success?order={order.id}").headers["Location"] == "/learn"
    assert "Your receipt for The starter kit" in [m["Subject"] for m in mailbox.messages]
    page = text_of(client.get(f"/courses/{bundle.slug}").get_data(as_text=True))
    assert "You have everything in this bundle" in page


def test_a_full_refund_ends_the_bundles_access_and_a_partial_one_keeps_it(client, web, bundle):
    learner, order = bought(client, web, bundle)

    refund_order(order, 2000, by=bundle.creator.user)
    kept = access(learner)
    refund_order(order, 7900, by=bundle.creator.user)

    assert kept == {"Grounding": (EnrollmentStatus.ACTIVE, order.id), "Sleep": (EnrollmentStatus.ACTIVE, order.id)}
    assert {title: status for title, (status, _) in access(learner).items()} == {
        "Grounding": EnrollmentStatus.REVOKED,
        "Sleep": EnrollmentStatus.REVOKED,
    }
    assert order.status is OrderStatus.REFUNDED


def test_what_the_learner_had_before_is_theirs_and_not_the_bundles_to_take_back(client, web, creator, bundle):
    learner = UserFactory()
    grounding = next(o for o in bundle.bundle_offerings if o.title == "Grounding")
    own = EnrollmentFactory(user=learner, offering=grounding)

    _, order = bought(client, web, bundle, learner)
    refund_order(order, order.amount_cents, by=creator.user)

    assert access(learner) == {
        "Grounding": (EnrollmentStatus.ACTIVE, own.order_id),
        "Sleep": (EnrollmentStatus.REVOKED, order.id),
    }


def test_someone_who_has_everything_is_not_charged(client, web, bundle):
    learner = UserFactory()
    for item in bundle.bundle_offerings:
        EnrollmentFactory(user=learner, offering=item)
    web.login(learner.email, PASSWORD)

    answer = buy(web, bundle)

    assert orders_of(learner) == []
    told = text_of(client.get(answer.headers["Location"]).get_data(as_text=True))
    assert "You already have everything in this bundle" in told


def test_a_dispute_pauses_every_offering_and_winning_it_gives_them_back(client, web, bundle):
    learner, order = bought(client, web, bundle)

    reverse_payment(order, Reversal(Reversal.DISPUTE_OPENED))
    paused = {status for status, _ in access(learner).values()}
    reverse_payment(order, Reversal(Reversal.DISPUTE_WON))

    assert paused == {EnrollmentStatus.SUSPENDED}
    assert {status for status, _ in access(learner).values()} == {EnrollmentStatus.ACTIVE}


def test_a_100_percent_coupon_on_a_bundle_enrols_in_each_offering(client, web, bundle):
    CouponFactory(creator=bundle.creator, code="KIT100", percent_off=100)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)

    answer = buy(web, bundle, coupon="KIT100")

    (order,) = orders_of(learner)
    assert answer.headers["Location"] == "/learn"
    assert (order.status, order.amount_cents, order.discount_cents) == (OrderStatus.PAID, 0, 9900)
    assert {status for status, _ in access(learner).values()} == {EnrollmentStatus.ACTIVE}
    assert len(access(learner)) == 2


def test_an_item_roster_links_the_bundle_order_to_its_refund_page(client, web, bundle):
    _, order = bought(client, web, bundle)
    web.logout()
    web.login(bundle.creator.user.email, PASSWORD)
    grounding = next(o for o in bundle.bundle_offerings if o.title == "Grounding")

    roster = client.get(f"/studio/courses/{grounding.id}/learners").get_data(as_text=True)
    refund_page = client.get(f"/studio/courses/{bundle.id}/orders/{order.id}/refund")

    assert f"/studio/courses/{bundle.id}/orders/{order.id}/refund" in roster
    assert refund_page.status_code == 200
    assert "a full refund ends the access this order gave (Grounding, Sleep)" in text_of(
        refund_page.get_data(as_text=True)
    )


def test_orders_are_one_per_bundle_whatever_the_webhook_repeats(client, web, bundle):
    learner, order = bought(client, web, bundle)

    from courseplatform.checkout.services import fulfil_order

    again = fulfil_order(order.id, paid=True)

    assert again.outcome.value == "already"
    assert db.session.scalar(sa.select(sa.func.count(Order.id)).where(Order.learner_id == learner.id)) == 1
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id)).where(Enrollment.user_id == learner.id)) == 2


def test_a_stripe_bundle_refunded_in_the_dashboard_twice_over_revokes_once(web, webhooks, connected_offering):
    from .test_webhooks import fresh, paid_order

    creator = connected_offering.creator
    second, _ = offering_with_lesson(creator=creator, price_cents=3000, title="Second")
    stripe_bundle = make_bundle(creator, connected_offering, second, price_cents=6500)
    order = paid_order(web, webhooks, stripe_bundle)
    learner = order.learner
    given = access(learner)

    charge = webhooks.fake.refund_outside_app(order.payment_intent_id)
    event, first = webhooks.send("charge.refunded", charge)
    repeat = webhooks.deliver(event)
    _, out_of_order = webhooks.send("checkout.session.completed", webhooks.fake.sessions[order.checkout_id])

    assert given == {
        "Grounding skills": (EnrollmentStatus.ACTIVE, order.id),
        "Second": (EnrollmentStatus.ACTIVE, order.id),
    }
    assert first.json["outcome"] == "refund" and repeat.status_code == 200
    order = fresh(order)
    assert order.status is OrderStatus.REFUNDED and len(order.refunds) == 1
    assert {status for status, _ in access(learner).values()} == {EnrollmentStatus.REVOKED}
    assert out_of_order.status_code == 200
    assert {status for status, _ in access(learner).values()} == {EnrollmentStatus.REVOKED}
