"""Memberships through Stripe Billing: a monthly subscription on the creator's account with the platform fee
as a percentage, renewed by invoices, canceled in Stripe's customer portal and ended with the period."""

from __future__ import annotations

import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import (
    AccessEvent,
    EnrollmentStatus,
    Job,
    OrderStatus,
    PlanStatus,
)

from ..factories import PASSWORD, UserFactory
from ..markup import text_of
from .test_stripe_checkout import buy, enrollment_of, orders_of
from .test_stripe_plans import plan_of


def joined(web, webhooks, stripe_circle):
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, stripe_circle)
    fake = webhooks.fake
    (session,) = [s for s in fake.sessions.values() if s["mode"] == "subscription"]
    session = fake.complete_session(session["id"])
    assert webhooks.send("checkout.session.completed", session)[1].json["outcome"] == "enrolled"
    return learner, session


def test_joining_is_a_monthly_subscription_with_no_end(web, webhooks, stripe_circle, connected_offering):
    learner, _ = joined(web, webhooks, stripe_circle)

    (created,) = webhooks.fake.find_requests("POST", "/v1/checkout/sessions")
    assert created.params["mode"] == "subscription"
    assert created.params["line_items"][0]["price_data"]["recurring"] == {"interval": "month"}
    assert created.params["subscription_data"]["application_fee_percent"] == "10"
    plan = plan_of(learner)
    assert plan.is_membership and plan.status is PlanStatus.ACTIVE
    assert enrollment_of(learner, connected_offering).status is EnrollmentStatus.ACTIVE
    # No schedule: a membership renews until it is canceled.
    assert db.session.scalars(sa.select(Job).where(Job.kind == "payments.plan_schedule")).all() == []


def test_a_membership_renews_then_is_canceled_in_the_portal_and_ends_with_the_period(
    web, webhooks, stripe_circle, connected_offering, mailbox
):
    learner, session = joined(web, webhooks, stripe_circle)
    fake, sub = webhooks.fake, session["subscription"]
    for _ in range(2):
        assert webhooks.send("invoice.paid", fake.bill_next(sub))[1].json["outcome"] == "instalment"
    assert [o.status for o in orders_of(learner)] == [OrderStatus.PAID] * 3

    manage = web.client.get(f"/account/plans/{plan_of(learner).id}/manage")
    (portal,) = fake.portal_sessions.values()
    assert manage.status_code == 303 and manage.headers["Location"] == portal["url"]
    assert portal["customer"] == session["customer"]

    canceled = fake.cancel_in_portal(sub)
    assert webhooks.send("customer.subscription.updated", canceled)[1].json["outcome"] == "membership_canceled"
    assert plan_of(learner).cancel_at_period_end
    assert enrollment_of(learner, connected_offering).status is EnrollmentStatus.ACTIVE  # to the period's end
    assert "Canceled: it ends on" in text_of(web.client.get("/account/orders").get_data(as_text=True))

    ended = fake.bill_next(sub)
    assert ended["status"] == "canceled"
    assert webhooks.send("customer.subscription.deleted", ended)[1].json["outcome"] == "membership_ended"
    webhooks.send("customer.subscription.deleted", ended)  # a second delivery changes nothing

    enrollment = enrollment_of(learner, connected_offering)
    assert (enrollment.status, enrollment.reason) == (EnrollmentStatus.REVOKED, AccessEvent.MEMBERSHIP_ENDED)
    assert plan_of(learner).status is PlanStatus.CANCELED
    assert mailbox.messages[-1]["Subject"] == "Your membership of The Consultation Circle has ended"


def test_resuming_in_the_portal_keeps_the_membership(web, webhooks, stripe_circle):
    learner, session = joined(web, webhooks, stripe_circle)
    fake, sub = webhooks.fake, session["subscription"]
    webhooks.send("customer.subscription.updated", fake.cancel_in_portal(sub))

    webhooks.send("customer.subscription.updated", fake.cancel_in_portal(sub, cancel=False))

    assert not plan_of(learner).cancel_at_period_end
    assert webhooks.send("invoice.paid", fake.bill_next(sub))[1].json["outcome"] == "instalment"


def paused(web, webhooks, stripe_circle):
    """A member whose renewal failed for good: (learner, subscription id, the failed invoice)."""
    learner, session = joined(web, webhooks, stripe_circle)
    fake, sub = webhooks.fake, session["subscription"]
    failed = fake.bill_next(sub, succeed=False)
    webhooks.send("invoice.payment_failed", failed)
    assert webhooks.send("customer.subscription.updated", fake.give_up(sub))[1].json["outcome"] == "plan_paused"
    return learner, sub, failed


def test_a_renewal_that_fails_for_good_pauses_the_membership_until_paid(
    web, webhooks, stripe_circle, connected_offering
):
    learner, _, failed = paused(web, webhooks, stripe_circle)
    assert enrollment_of(learner, connected_offering).reason is AccessEvent.PAYMENT_OVERDUE

    webhooks.fake.pay_invoice(failed["id"])
    webhooks.send("invoice.paid", webhooks.fake.invoices[failed["id"]])
    assert enrollment_of(learner, connected_offering).status is EnrollmentStatus.ACTIVE
    assert plan_of(learner).status is PlanStatus.ACTIVE


def test_a_membership_that_ended_while_overdue_owes_nothing_and_a_late_payment_is_refunded(
    web, webhooks, stripe_circle, connected_offering
):
    learner, sub, failed = paused(web, webhooks, stripe_circle)
    fake = webhooks.fake
    webhooks.send("customer.subscription.updated", fake.cancel_in_portal(sub))  # the member cancels in the portal
    ended = fake.bill_next(sub)
    assert webhooks.send("customer.subscription.deleted", ended)[1].json["outcome"] == "membership_ended"

    card = web.client.get(f"/account/plans/{plan_of(learner).id}/card")
    assert card.headers.get("Location") != failed["hosted_invoice_url"]  # not sent to pay for it
    late = webhooks.send("invoice.paid", fake.pay_invoice(failed["id"]))[1].json["outcome"]

    assert late == "refunded_unexpected"
    assert orders_of(learner)[-1].status is OrderStatus.REFUNDED
    assert enrollment_of(learner, connected_offering).status is EnrollmentStatus.REVOKED
