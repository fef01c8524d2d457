"""Payment plans through Stripe at their edges: the success page before the webhook, a first payment that
can't give access, events in the wrong order, a plan Stripe ends while a payment is overdue, and disputes."""

from __future__ import annotations

from courseplatform.checkout.services import refund_order
from courseplatform.models import AccessEvent, EnrollmentStatus, OrderStatus, PlanStatus

from ..markup import text_of
from .test_stripe_checkout import buy, enrollment_of, orders_of
from .test_stripe_plans import checked_out, plan_of, run_jobs


def test_the_success_page_before_the_webhook_records_the_subscription_and_the_charge(web, webhooks, plan_offering):
    learner, session = checked_out(web, webhooks, plan_offering)
    fake = webhooks.fake

    web.client.get(f"/checkout/success?session_id={session['id']}")  # back from Stripe before the webhook
    webhooks.send("checkout.session.completed", session)

    [order] = orders_of(learner)
    plan = plan_of(learner)
    assert order.status is OrderStatus.PAID and order.provider_invoice_id == session["invoice"]
    assert order.charge_id is not None and order.payment_intent_id is not None
    assert plan.provider_subscription_id == session["subscription"]
    (job,) = run_jobs("payments.plan_schedule")
    assert job.result == {"scheduled": True}
    for _ in range(2):
        webhooks.send("invoice.paid", fake.bill_next(session["subscription"]))
    assert fake.bill_next(session["subscription"])["status"] == "canceled"  # three payments, then it ends
    refund_order(orders_of(learner)[0], 4500, by=plan_offering.creator.user)  # instalment 1 can be refunded
    assert orders_of(learner)[0].status is OrderStatus.REFUNDED


def test_a_first_payment_that_cant_give_access_cancels_the_subscription(web, webhooks, plan_offering):
    learner, session = checked_out(web, webhooks, plan_offering)
    fake = webhooks.fake
    buy(web, plan_offering)  # in another tab the learner pays at once, and that checkout completes first
    (once,) = [s for s in fake.sessions.values() if s["mode"] == "payment"]
    webhooks.send("checkout.session.completed", fake.complete_session(once["id"]))

    assert webhooks.send("checkout.session.completed", session)[1].json["outcome"] == "refunded_duplicate"
    (job,) = run_jobs("payments.plan_cancel")

    assert job.result == {"canceled": True}
    assert plan_of(learner).status is PlanStatus.CANCELED
    assert fake.subscription(session["subscription"])["status"] == "canceled"


def test_a_refund_told_before_the_instalments_payment_is_applied_once_it_is_booked(web, webhooks, plan_offering):
    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    fake = webhooks.fake
    second = fake.bill_next(session["subscription"])
    (paid,) = [p for p in fake.invoice_payments.values() if p["invoice"] == second["id"]]

    refunded = fake.refund_outside_app(paid["payment"]["payment_intent"])  # in Stripe's dashboard, told first
    assert webhooks.send("charge.refunded", refunded)[1].json["outcome"] == "parked"
    assert webhooks.send("invoice.paid", second)[1].json["outcome"] == "instalment"

    order = orders_of(learner)[1]
    assert order.status is OrderStatus.REFUNDED and order.refunded_cents == 4500
    assert enrollment_of(learner, plan_offering).status is EnrollmentStatus.ACTIVE  # instalment 1 still pays for it


def test_the_schedule_keeps_the_creators_share_and_the_platform_fee_on_every_instalment(web, webhooks, plan_offering):
    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    run_jobs("payments.plan_schedule")
    fake = webhooks.fake

    webhooks.send("invoice.paid", fake.bill_next(session["subscription"]))

    second = orders_of(learner)[1]
    charge = fake.charges[second.charge_id]
    assert charge["transfer_data"] == {"destination": plan_offering.creator.stripe_account_id}
    assert charge["application_fee_amount"] == second.platform_fee_cents == 450


def test_a_late_failure_of_an_invoice_already_paid_changes_nothing(web, webhooks, plan_offering, mailbox):
    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    fake, sub = webhooks.fake, session["subscription"]
    failed = fake.bill_next(sub, succeed=False)
    late = fake.event("invoice.payment_failed", failed)  # Stripe's delivery of it is delayed
    webhooks.send("invoice.paid", fake.retry_invoice(failed["id"], succeed=True))
    sent = len(mailbox.messages)

    assert webhooks.deliver(late).json["outcome"] == "unchanged"

    plan = plan_of(learner)
    assert plan.status is PlanStatus.ACTIVE and plan.failed_attempts == 0
    assert len(mailbox.messages) == sent


def test_stripes_active_subscription_clears_a_retried_failure(web, webhooks, plan_offering):
    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    fake, sub = webhooks.fake, session["subscription"]
    failed = fake.bill_next(sub, succeed=False)
    webhooks.send("invoice.payment_failed", failed)
    fake.retry_invoice(failed["id"], succeed=True)  # its invoice.paid is still on its way

    assert webhooks.send("customer.subscription.updated", fake.subscription(sub))[1].json["outcome"] == "plan_active"
    assert plan_of(learner).status is PlanStatus.ACTIVE


def test_winning_a_dispute_leaves_an_overdue_plan_paused(web, webhooks, plan_offering):
    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    fake, sub = webhooks.fake, session["subscription"]
    [first] = orders_of(learner)
    dispute = fake.open_dispute(first.charge_id)
    webhooks.send("charge.dispute.created", dispute)
    webhooks.send("invoice.payment_failed", fake.bill_next(sub, succeed=False))
    webhooks.send("customer.subscription.updated", fake.give_up(sub))

    webhooks.send("charge.dispute.closed", fake.close_dispute(dispute["id"], "won"))

    access = enrollment_of(learner, plan_offering)
    assert plan_of(learner).status is PlanStatus.PAUSED
    assert access.status is EnrollmentStatus.SUSPENDED and access.reason is AccessEvent.PAYMENT_OVERDUE


def test_a_plan_stripe_ends_while_overdue_takes_what_is_owed_and_then_gives_access_back(web, webhooks, plan_offering):
    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    run_jobs("payments.plan_schedule")
    fake, sub = webhooks.fake, session["subscription"]
    second = fake.bill_next(sub, succeed=False)
    webhooks.send("invoice.payment_failed", second)
    webhooks.send("customer.subscription.updated", fake.give_up(sub))
    third = fake.bill_next(sub, succeed=False)
    ended = fake.bill_next(sub)  # the schedule's months are over: Stripe cancels the subscription
    assert webhooks.send("customer.subscription.deleted", ended)[1].json["outcome"] == "plan_canceled"
    assert plan_of(learner).status is PlanStatus.CANCELED
    assert enrollment_of(learner, plan_offering).status is EnrollmentStatus.SUSPENDED

    # The card link still leads to what is owed, oldest first.
    plan_id = plan_of(learner).id
    assert web.client.get(f"/account/plans/{plan_id}/card").headers["Location"] == second["hosted_invoice_url"]
    assert webhooks.send("invoice.paid", fake.pay_invoice(second["id"]))[1].json["outcome"] == "instalment"
    assert enrollment_of(learner, plan_offering).status is EnrollmentStatus.SUSPENDED  # $45 still owed
    assert web.client.get(f"/account/plans/{plan_id}/card").headers["Location"] == third["hosted_invoice_url"]
    assert webhooks.send("invoice.paid", fake.pay_invoice(third["id"]))[1].json["outcome"] == "instalment"

    assert plan_of(learner).status is PlanStatus.COMPLETED
    assert enrollment_of(learner, plan_offering).status is EnrollmentStatus.ACTIVE
    assert [o.status for o in orders_of(learner)] == [OrderStatus.PAID] * 3
    assert "Paid in full" in text_of(web.client.get("/account/orders").get_data(as_text=True))


def test_an_invoice_that_isnt_an_instalment_is_not_booked_as_one(web, webhooks, plan_offering):
    learner, session = checked_out(web, webhooks, plan_offering)
    webhooks.send("checkout.session.completed", session)
    invoice = webhooks.fake.bill_next(session["subscription"])

    odd = {**invoice, "amount_paid": 1, "amount_due": 1}
    assert webhooks.send("invoice.paid", odd)[1].json["outcome"] == "mismatch"
    manual = {**invoice, "billing_reason": "manual"}
    assert webhooks.send("invoice.paid", manual)[1].json["outcome"] == "mismatch"

    assert plan_of(learner).paid_count == 1 and len(orders_of(learner)) == 1
