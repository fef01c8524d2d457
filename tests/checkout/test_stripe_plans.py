"""Payment plans through Stripe Billing: Checkout in subscription mode, invoices as instalments, a schedule
that ends the plan on its own, failures retried then paused, and every event applied once in any order."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.jobs import run_job
from courseplatform.models import (
    AccessEvent,
    EnrollmentStatus,
    Job,
    JobStatus,
    OrderStatus,
    PaymentPlan,
    PlanStatus,
)

from ..factories import PASSWORD, UserFactory
from ..markup import text_of
from .test_stripe_checkout import buy, enrollment_of, orders_of


def plan_of(learner) -> PaymentPlan:
    db.session.expire_all()
    return db.session.scalars(sa.select(PaymentPlan).where(PaymentPlan.learner_id == learner.id)).one()


def run_jobs(kind: str) -> list[Job]:
    jobs = db.session.scalars(sa.select(Job).where(Job.kind == kind).order_by(Job.id)).all()
    for job in jobs:
        if job.status is JobStatus.PENDING:
            run_job(job.id)
    db.session.expire_all()
    return list(jobs)


def checked_out(web, webhooks, offering, *, learner=None):
    """Buy on the plan, finish Stripe's page, deliver the completion; returns (learner, session)."""
    learner = learner or UserFactory()
    web.login(learner.email, PASSWORD)
    answer = buy(web, offering, plan="1")
    fake = webhooks.fake
    (session,) = [s for s in fake.sessions.values() if s["mode"] == "subscription"]
    assert answer.status_code == 303 and answer.headers["Location"] == session["url"]
    return learner, fake.complete_session(session["id"])


def test_the_checkout_is_a_monthly_subscription_with_the_fee_as_a_percentage(web, webhooks, plan_offering):
    learner, session = checked_out(web, webhooks, plan_offering)
    fake = webhooks.fake

    [order] = orders_of(learner)
    (created,) = fake.find_requests("POST", "/v1/checkout/sessions")
    params = created.params
    assert params["mode"] == "subscription" and "payment_intent_data" not in params
    assert params["line_items"][0]["price_data"]["recurring"] == {"interval": "month"}
    assert params["line_items"][0]["price_data"]["unit_amount"] == "4500"
    assert params["subscription_data"]["application_fee_percent"] == "10"
    assert params["subscription_data"]["transfer_data"] == {"destination": plan_offering.creator.stripe_account_id}
    assert params["subscription_data"]["metadata"]["order_id"] == str(order.id)

    _, response = webhooks.send("checkout.session.completed", session)

    assert response.json["outcome"] == "enrolled"
    [order] = orders_of(learner)
    charge = fake.charges[order.charge_id]
    assert (order.status, order.amount_cents, order.instalment) == (OrderStatus.PAID, 4500, 1)
    assert order.provider_invoice_id == session["invoice"] and order.payment_intent_id == charge["payment_intent"]
    assert order.platform_fee_cents == charge["application_fee_amount"] == 450
    assert order.processor_fee_cents == fake.balance_transactions[charge["balance_transaction"]]["fee"]
    plan = plan_of(learner)
    assert plan.status is PlanStatus.ACTIVE and plan.provider_subscription_id == session["subscription"]
    assert enrollment_of(learner, plan_offering).status is EnrollmentStatus.ACTIVE


def test_a_job_puts_the_subscription_on_a_schedule_that_cancels_it_after_the_last_instalment(
    web, webhooks, plan_offering
):
    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    fake = webhooks.fake

    (job,) = run_jobs("payments.plan_schedule")

    assert job.status is JobStatus.DONE and job.result == {"scheduled": True}
    subscription = fake.subscription(session["subscription"])
    schedule = fake.subscription_schedules[subscription["schedule"]]
    assert schedule["end_behavior"] == "cancel"
    (updated,) = fake.find_requests("POST", f"/v1/subscription_schedules/{schedule['id']}")
    assert updated.params["phases"][0]["duration"] == {"interval": "month", "interval_count": "3"}
    assert plan_of(learner).ends_on_its_own

    # Three payments in all, then Stripe cancels the subscription instead of billing a fourth.
    for _ in range(2):
        invoice = fake.bill_next(session["subscription"])
        assert webhooks.send("invoice.paid", invoice)[1].json["outcome"] == "instalment"
    ended = fake.bill_next(session["subscription"])
    assert ended["object"] == "subscription" and ended["status"] == "canceled"
    assert webhooks.send("customer.subscription.deleted", ended)[1].json["outcome"] == "unchanged"

    plan = plan_of(learner)
    assert plan.status is PlanStatus.COMPLETED and plan.paid_count == 3
    assert [(o.instalment, o.amount_cents, o.status) for o in orders_of(learner)] == [
        (1, 4500, OrderStatus.PAID),
        (2, 4500, OrderStatus.PAID),
        (3, 4500, OrderStatus.PAID),
    ]


def test_every_event_counts_once_whatever_order_it_arrives_in(web, webhooks, plan_offering):
    learner, session = checked_out(web, webhooks, plan_offering)
    fake = webhooks.fake
    first_invoice = fake.invoices[session["invoice"]]

    # Stripe sends the first invoice's payment before the checkout's completion, then both again.
    assert webhooks.send("invoice.paid", first_invoice)[1].json["outcome"] == "enrolled"
    assert webhooks.send("checkout.session.completed", session)[1].json["outcome"] == "already"
    second = fake.bill_next(session["subscription"])
    event, _ = webhooks.send("invoice.paid", second)
    assert webhooks.deliver(event).json["outcome"] == "duplicate"
    # The same invoice in a second event (Stripe retries with a new event id at times).
    assert webhooks.send("invoice.paid", second)[1].json["outcome"] == "duplicate"
    assert webhooks.send("invoice.paid", first_invoice)[1].json["outcome"] == "already"

    assert [o.instalment for o in orders_of(learner)] == [1, 2]
    assert plan_of(learner).paid_count == 2


def test_a_failed_instalment_is_retried_by_stripe_then_pauses_access_until_paid(web, webhooks, plan_offering, mailbox):
    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    fake = webhooks.fake
    sub_id = session["subscription"]

    failed = fake.bill_next(sub_id, succeed=False)
    assert webhooks.send("invoice.payment_failed", failed)[1].json["outcome"] == "instalment_failed"
    assert webhooks.send("customer.subscription.updated", fake.subscription(sub_id))[1].json["outcome"] == "unchanged"
    plan = plan_of(learner)
    assert plan.status is PlanStatus.PAST_DUE
    assert enrollment_of(learner, plan_offering).status is EnrollmentStatus.ACTIVE
    assert mailbox.messages[-1]["Subject"] == "A payment for Grounding skills didn't go through"

    again = fake.retry_invoice(failed["id"], succeed=False)
    webhooks.send("invoice.payment_failed", again)
    unpaid = fake.give_up(sub_id)
    assert webhooks.send("customer.subscription.updated", unpaid)[1].json["outcome"] == "plan_paused"
    # An older "past_due" update delivered late changes nothing: the app reads the subscription as it is now.
    assert webhooks.send("customer.subscription.updated", {**unpaid, "status": "past_due"})[1].json["outcome"] == (
        "unchanged"
    )

    enrollment = enrollment_of(learner, plan_offering)
    assert plan_of(learner).status is PlanStatus.PAUSED
    assert enrollment.status is EnrollmentStatus.SUSPENDED and enrollment.reason is AccessEvent.PAYMENT_OVERDUE
    assert "Grounding skills is overdue: access is paused" in mailbox.messages[-1]["Subject"]

    # The learner follows the e-mail's link: Stripe's page for the overdue invoice.
    page = web.client.get(f"/account/plans/{plan_of(learner).id}/card")
    assert page.status_code == 303 and page.headers["Location"] == fake.invoices[failed["id"]]["hosted_invoice_url"]

    paid = fake.pay_invoice(failed["id"])
    assert webhooks.send("invoice.paid", paid)[1].json["outcome"] == "instalment"
    webhooks.send("customer.subscription.updated", fake.subscription(sub_id))

    plan = plan_of(learner)
    assert plan.status is PlanStatus.ACTIVE and plan.paid_count == 2
    assert enrollment_of(learner, plan_offering).status is EnrollmentStatus.ACTIVE
    assert [o.instalment for o in orders_of(learner)] == [1, 2]


def test_updating_the_card_of_a_plan_on_schedule_opens_stripes_portal(web, webhooks, plan_offering):
    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    fake = webhooks.fake

    answer = web.client.get(f"/account/plans/{plan_of(learner).id}/card")

    (portal,) = fake.portal_sessions.values()
    assert answer.status_code == 303 and answer.headers["Location"] == portal["url"]
    assert portal["customer"] == session["customer"] and portal["flow"]["type"] == "payment_method_update"
    assert "Update card" in text_of(web.client.get("/account/orders").get_data(as_text=True))


def test_a_refund_of_the_first_instalment_ends_access_and_cancels_the_subscription(web, webhooks, plan_offering):
    from courseplatform.checkout.services import refund_order

    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    [order] = orders_of(learner)

    refund_order(order, 4500, by=plan_offering.creator.user)
    db.session.flush()
    (job,) = run_jobs("payments.plan_cancel")

    assert job.status is JobStatus.DONE and job.result == {"canceled": True}
    assert webhooks.fake.subscription(session["subscription"])["status"] == "canceled"
    assert plan_of(learner).status is PlanStatus.CANCELED
    assert enrollment_of(learner, plan_offering).status is EnrollmentStatus.REVOKED


def test_a_payment_after_the_plan_stopped_is_refunded_in_full(web, webhooks, plan_offering, mailbox):
    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    fake = webhooks.fake
    plan = plan_of(learner)
    plan.status = PlanStatus.CANCELED  # stopped here, while Stripe's cancellation hadn't gone through yet
    db.session.flush()

    stray = fake.bill_next(session["subscription"])
    assert webhooks.send("invoice.paid", stray)[1].json["outcome"] == "refunded_unexpected"

    orders = orders_of(learner)
    assert [o.status for o in orders] == [OrderStatus.PAID, OrderStatus.REFUNDED]
    assert fake.charges[orders[1].charge_id]["amount_refunded"] == 4500
    assert "was over: this payment is refunded" in mailbox.messages[-1]["Subject"]


def test_an_invoice_in_another_currency_is_not_booked(web, webhooks, plan_offering):
    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    stray = webhooks.fake.bill_next(session["subscription"])

    assert webhooks.send("invoice.paid", {**stray, "currency": "eur"})[1].json["outcome"] == "mismatch"
    assert len(orders_of(learner)) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"amount_paid": -5},
        {"amount_paid": 10**30},
        {"currency": "dollars"},
        {"parent": "sub_1"},
        {"lines": {"data": "nope"}},
        {"next_payment_attempt": 10**20},
        {"id": "in_\x00"},
    ],
)
def test_a_malformed_invoice_is_refused_and_changes_nothing(web, webhooks, plan_offering, change):
    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    invoice = webhooks.fake.bill_next(session["subscription"])

    _, response = webhooks.send("invoice.payment_failed", {**invoice, **change})

    assert response.status_code == 400
    assert plan_of(learner).status is PlanStatus.ACTIVE and len(orders_of(learner)) == 1
