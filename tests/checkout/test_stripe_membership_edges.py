"""Memberships through Stripe at their edges: a payment for a membership that already ended is refunded."""

from __future__ import annotations

from courseplatform.models import EnrollmentStatus, OrderStatus, PlanStatus

from .test_stripe_checkout import enrollment_of, orders_of
from .test_stripe_memberships import joined
from .test_stripe_plans import plan_of


def test_an_ex_member_isnt_charged_for_a_membership_that_ended_while_overdue(
    web, webhooks, stripe_circle, connected_offering
):
    learner, session = joined(web, webhooks, stripe_circle)
    fake, sub = webhooks.fake, session["subscription"]
    failed = fake.bill_next(sub, succeed=False)
    webhooks.send("invoice.payment_failed", failed)
    assert webhooks.send("customer.subscription.updated", fake.give_up(sub))[1].json["outcome"] == "plan_paused"
    # The member cancels in the portal (or the creator's Stripe settings cancel unpaid subscriptions): it ends.
    webhooks.send("customer.subscription.updated", fake.cancel_in_portal(sub))
    ended = fake.bill_next(sub)
    assert webhooks.send("customer.subscription.deleted", ended)[1].json["outcome"] == "membership_ended"
    assert plan_of(learner).status is PlanStatus.CANCELED
    assert enrollment_of(learner, connected_offering).status is EnrollmentStatus.REVOKED

    # The app still sends the ex-member to pay the old invoice (the paused e-mail's link, or /card):
    plan_id = plan_of(learner).id
    card = web.client.get(f"/account/plans/{plan_id}/card")
    print("card ->", card.status_code, card.headers.get("Location"))
    outcome = webhooks.send("invoice.paid", fake.pay_invoice(failed["id"]))[1].json["outcome"]
    print("invoice.paid ->", outcome, [(o.instalment, o.status) for o in orders_of(learner)])

    paid_without_access = (
        orders_of(learner)[-1].status is OrderStatus.PAID
        and enrollment_of(learner, connected_offering).status is not EnrollmentStatus.ACTIVE
    )
    assert card.headers.get("Location") != failed["hosted_invoice_url"], "an ended membership is sent to pay"
    assert not paid_without_access, "charged for a membership whose access has ended, and not refunded"
