"""Payment plans in test mode: paid in monthly instalments, retried on failure, paused, recovered, ended."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from courseplatform.checkout.plans import add_months
from courseplatform.checkout.services import refund_order
from courseplatform.extensions import db
from courseplatform.integrations.mail import deliver_committed
from courseplatform.jobs.scheduled import bill_test_plans
from courseplatform.models import (
    AccessEvent,
    Enrollment,
    EnrollmentStatus,
    Order,
    OrderStatus,
    PaymentPlan,
    PaymentProvider,
    PlanStatus,
    utcnow,
)

from ..factories import PASSWORD, CreatorProfileFactory, UserFactory
from ..helpers import csrf_token_from
from ..markup import text_of
from .test_test_mode_checkout import buy, offering_with_lesson, orders_of, pay


@pytest.fixture
def offering():
    offering, _ = offering_with_lesson(
        creator=CreatorProfileFactory(display_name="Dr. Mara Quinn"),
        title="Trauma-informed practice",
        price_cents=12900,
        plan_instalments=3,
        plan_instalment_cents=4500,
    )
    return offering


def plan_of(learner) -> PaymentPlan:
    db.session.expire_all()
    return db.session.scalars(sa.select(PaymentPlan).where(PaymentPlan.learner_id == learner.id)).one()


def access_of(learner, offering) -> Enrollment:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(Enrollment).where(Enrollment.user_id == learner.id, Enrollment.offering_id == offering.id)
    ).one()


def started(client, web, offering, *, choice="pay", learner=None):
    learner = learner or UserFactory(name="Ana Ruiz")
    web.login(learner.email, PASSWORD)
    response = buy(web, offering, plan="1")
    [order] = orders_of(learner)
    assert response.headers["Location"] == f"/checkout/test/{order.id}"
    pay(client, order, choice)
    return learner, plan_of(learner)


def bill(at):
    """The billing run at `at` (the test's clock), committed and its e-mail delivered, as the command does."""
    figures = bill_test_plans(at)
    deliver_committed()
    return figures


def test_the_page_offers_the_plan_beside_the_price(client, offering):
    page = text_of(client.get(f"/courses/{offering.slug}").get_data(as_text=True))

    assert "or 3 monthly payments of $45" in page
    assert "Pay in 3 monthly payments" in page
    assert "$45 today, then monthly; $135 in all. Access starts today." in page


def test_the_first_instalment_gives_access_and_the_plan_runs(client, web, offering, mailbox):
    learner, plan = started(client, web, offering)

    [order] = orders_of(learner)
    assert order.status is OrderStatus.PAID and order.amount_cents == 4500 and order.instalment == 1
    assert order.platform_fee_cents == 450  # the fee on what was paid, not on the whole price
    assert plan.status is PlanStatus.ACTIVE and plan.paid_count == 1 and plan.instalments == 3
    assert plan.next_charge_at == add_months(plan.started_at, 1)
    assert access_of(learner, offering).status is EnrollmentStatus.ACTIVE
    assert mailbox.messages[-1]["Subject"] == "Your receipt for Trauma-informed practice"

    page = text_of(client.get("/account/orders").get_data(as_text=True))
    assert "Memberships and payment plans" in page and "1 of 3 paid: $45 of $135" in page and "Update card" in page


def test_each_month_an_instalment_is_an_order_and_the_plan_ends_on_its_own(client, web, offering, mailbox):
    learner, plan = started(client, web, offering)
    start = plan.started_at

    assert bill(start + timedelta(days=27)) == {"paid": 0, "failed": 0, "paused": 0, "ended": 0}  # nothing due yet
    assert bill(add_months(start, 1)) == {"paid": 1, "failed": 0, "paused": 0, "ended": 0}
    assert bill(add_months(start, 1) + timedelta(hours=1)) == {"paid": 0, "failed": 0, "paused": 0, "ended": 0}  # once
    assert mailbox.messages[-1]["Subject"] == "Your receipt: payment 2 of 3 for Trauma-informed practice"
    assert bill(add_months(start, 2)) == {"paid": 1, "failed": 0, "paused": 0, "ended": 0}
    assert bill(add_months(start, 6)) == {"paid": 0, "failed": 0, "paused": 0, "ended": 0}  # paid off: nothing more

    orders = orders_of(learner)
    assert [(o.instalment, o.amount_cents, o.status) for o in orders] == [
        (1, 4500, OrderStatus.PAID),
        (2, 4500, OrderStatus.PAID),
        (3, 4500, OrderStatus.PAID),
    ]
    plan = plan_of(learner)
    assert plan.status is PlanStatus.COMPLETED and plan.paid_count == 3 and plan.next_charge_at is None
    assert "so the plan is complete: nothing more will be taken" in mailbox.last_body()
    assert access_of(learner, offering).status is EnrollmentStatus.ACTIVE


def test_a_failed_instalment_is_retried_then_pauses_access_until_the_card_is_updated(client, web, offering, mailbox):
    learner, plan = started(client, web, offering, choice="pay_declining")
    due = add_months(plan.started_at, 1)

    assert bill(due) == {"paid": 0, "failed": 1, "paused": 0, "ended": 0}
    plan = plan_of(learner)
    assert plan.status is PlanStatus.PAST_DUE and plan.next_charge_at == due + timedelta(days=3)
    assert access_of(learner, offering).status is EnrollmentStatus.ACTIVE  # retries leave access on
    assert mailbox.messages[-1]["Subject"] == "A payment for Trauma-informed practice didn't go through"
    failed_mail = mailbox.last_body()
    assert f"/account/plans/{plan.id}/card" in failed_mail

    sent = len(mailbox.messages)
    bill(due + timedelta(days=3))
    bill(due + timedelta(days=8))
    assert len(mailbox.messages) == sent  # one e-mail for the failure, not one per retry
    assert bill(due + timedelta(days=15)) == {"paid": 0, "failed": 0, "paused": 1, "ended": 0}

    plan = plan_of(learner)
    enrollment = access_of(learner, offering)
    assert plan.status is PlanStatus.PAUSED
    assert enrollment.status is EnrollmentStatus.SUSPENDED and enrollment.reason is AccessEvent.PAYMENT_OVERDUE
    assert (
        mailbox.messages[-1]["Subject"].strip() == "A payment for Trauma-informed practice is overdue: access is paused"
    )
    assert bill(due + timedelta(days=40)) == {"paid": 0, "failed": 0, "paused": 0, "ended": 0}  # paused plans wait

    learn = text_of(client.get(f"/courses/{offering.slug}").get_data(as_text=True))
    assert "An instalment of your payment plan couldn't be taken, so access is paused." in learn

    page = client.get(f"/account/plans/{plan.id}/card").get_data(as_text=True)
    assert "Use the working test card and pay $45" in text_of(page)
    response = client.post(f"/account/plans/{plan.id}/card", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 302

    plan = plan_of(learner)
    assert plan.status is PlanStatus.ACTIVE and plan.paid_count == 2
    assert access_of(learner, offering).status is EnrollmentStatus.ACTIVE
    assert [o.instalment for o in orders_of(learner)] == [1, 2]


def test_a_full_refund_of_the_only_instalment_ends_access_and_stops_the_plan(client, web, offering):
    learner, plan = started(client, web, offering)
    [order] = orders_of(learner)

    refund_order(order, 4500, by=offering.creator.user)
    db.session.flush()

    assert access_of(learner, offering).status is EnrollmentStatus.REVOKED
    assert plan_of(learner).status is PlanStatus.CANCELED
    nothing = {"paid": 0, "failed": 0, "paused": 0, "ended": 0}
    assert bill(add_months(plan.started_at, 1)) == nothing  # nothing more is taken


def test_refunding_one_instalment_of_several_keeps_access_while_the_rest_stay_paid(client, web, offering):
    learner, plan = started(client, web, offering)
    bill(add_months(plan.started_at, 1))
    first, second = orders_of(learner)

    refund_order(second, 4500, by=offering.creator.user)
    db.session.flush()

    assert access_of(learner, offering).status is EnrollmentStatus.ACTIVE
    assert plan_of(learner).status is PlanStatus.ACTIVE

    refund_order(first, 4500, by=offering.creator.user)  # now everything paid went back
    db.session.flush()
    assert access_of(learner, offering).status is EnrollmentStatus.REVOKED
    assert plan_of(learner).status is PlanStatus.CANCELED


def test_the_creators_revoke_stops_the_plan(client, web, offering):
    from courseplatform.enrollments.access_changes import revoke

    learner, plan = started(client, web, offering)

    revoke(access_of(learner, offering))
    db.session.flush()

    assert plan_of(learner).status is PlanStatus.CANCELED
    assert bill(add_months(plan.started_at, 1))["paid"] == 0


def test_a_lapsed_plan_checkout_never_starts_the_plan(client, web, offering):
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, offering, plan="1")
    [order] = orders_of(learner)

    pay(client, order, "decline")

    assert plan_of(learner).status is PlanStatus.ABANDONED
    assert "Memberships and payment plans" not in text_of(client.get("/account/orders").get_data(as_text=True))


def test_codes_apply_to_paying_at_once_only(client, web, offering):
    from ..factories import CouponFactory

    CouponFactory(creator=offering.creator, code="WELCOME20")
    learner = UserFactory()
    web.login(learner.email, PASSWORD)

    response = web.submit(
        f"/courses/{offering.slug}/checkout",
        {"plan": "1", "coupon": "WELCOME20"},
        form_url=f"/courses/{offering.slug}?coupon=WELCOME20",
    )

    assert "Codes apply to paying at once, not to the payment plan." in text_of(response.get_data(as_text=True))
    assert orders_of(learner) == []


def test_an_offering_without_a_plan_refuses_one(client, web):
    offering, _ = offering_with_lesson(price_cents=4900)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)

    response = web.submit(f"/courses/{offering.slug}/checkout", {"plan": "1"}, form_url=f"/courses/{offering.slug}")

    assert "This offering isn't sold in instalments." in text_of(response.get_data(as_text=True))
    assert orders_of(learner) == []


def test_someone_elses_plan_card_page_is_a_404(client, web, offering):
    _, plan = started(client, web, offering)
    web.logout()
    other = UserFactory()
    web.login(other.email, PASSWORD)

    assert client.get(f"/account/plans/{plan.id}/card").status_code == 404
    assert client.post(f"/account/plans/{plan.id}/card").status_code in (400, 404)


def test_the_ledger_counts_instalments_as_sales(client, web, offering):
    learner, plan = started(client, web, offering)
    bill(add_months(plan.started_at, 1))

    paid = db.session.scalar(
        sa.select(sa.func.sum(Order.amount_cents)).where(Order.plan_id == plan.id, Order.status == OrderStatus.PAID)
    )
    assert paid == 9000
    assert plan_of(learner).owed_cents == 4500
    assert utcnow() < plan_of(learner).next_charge_at


def test_the_payouts_ledger_shows_each_instalment_and_what_is_paid_and_owed(client, web, offering):
    _, plan = started(client, web, offering)
    bill(add_months(plan.started_at, 1))
    web.logout()
    web.login(offering.creator.user.email, PASSWORD)

    page = text_of(client.get("/studio/payouts").get_data(as_text=True))

    assert "payment 2 of 3: $90 paid, $45 owed" in page
    assert "payment 1 of 3: $90 paid, $45 owed" in page
    assert "Payment plans: 1 running, with $45 still to be paid in instalments." in page


def test_revoking_one_offering_of_a_bundle_bought_on_a_plan_keeps_the_plan_for_the_other(client, web):
    from courseplatform.enrollments.access_changes import revoke

    from .test_bundles import make_bundle

    creator = CreatorProfileFactory()
    first, _ = offering_with_lesson(creator=creator, price_cents=6000, title="Grounding")
    second, _ = offering_with_lesson(creator=creator, price_cents=7000, title="Sleep")
    bundle = make_bundle(creator, first, second)
    bundle.plan_instalments, bundle.plan_instalment_cents = 3, 3300
    learner, plan = started(client, web, bundle)

    revoke(access_of(learner, second))
    db.session.flush()
    assert plan_of(learner).status is PlanStatus.ACTIVE  # Grounding is still being paid for
    assert bill(add_months(plan.started_at, 1))["paid"] == 1

    revoke(access_of(learner, first))
    db.session.flush()
    assert plan_of(learner).status is PlanStatus.CANCELED  # nothing left to pay for


def test_the_creator_can_give_an_overdue_learner_access_back(client, web, offering):
    from courseplatform.enrollments.access_changes import restore

    learner, plan = started(client, web, offering, choice="pay_declining")
    due = add_months(plan.started_at, 1)
    for days in (0, 3, 8, 15):
        bill(due + timedelta(days=days))
    assert access_of(learner, offering).reason is AccessEvent.PAYMENT_OVERDUE

    restore(access_of(learner, offering))
    db.session.flush()

    assert access_of(learner, offering).status is EnrollmentStatus.ACTIVE


def test_the_ledger_adds_up_plans_too_big_for_a_32_bit_sum(client, web):
    creator = CreatorProfileFactory()
    offering, _ = offering_with_lesson(
        creator=creator, price_cents=100, plan_instalments=24, plan_instalment_cents=99_999_999
    )
    db.session.add(
        PaymentPlan(
            learner_id=UserFactory().id,
            offering_id=offering.id,
            provider=PaymentProvider.TEST,
            currency=offering.currency,
            instalments=24,
            instalment_cents=99_999_999,
            paid_count=1,
            status=PlanStatus.ACTIVE,
            started_at=utcnow(),
        )
    )
    db.session.flush()
    web.login(creator.user.email, PASSWORD)

    page = client.get("/studio/payouts")

    assert page.status_code == 200
    assert "with $22,999,999.77 still to be paid in instalments" in text_of(page.get_data(as_text=True))


def test_the_revenue_view_counts_plan_collections_and_what_is_still_to_come(client, web, offering):
    from datetime import date
    from zoneinfo import ZoneInfo

    from courseplatform.revenue.figures import Period, revenue_figures

    _, plan = started(client, web, offering)
    bill(add_months(plan.started_at, 1))
    today = utcnow().date()
    period = Period(date(today.year - 1, today.month, 1), date(today.year + 1, today.month, 1))

    recurring = revenue_figures(offering.creator, period, ZoneInfo("UTC")).recurring

    assert (recurring.plan_cents, recurring.plans_owed_cents, recurring.plans_running) == (9000, 4500, 1)
    assert recurring.mrr_cents == 0 and recurring.one_off_cents == 0
    web.logout()
    web.login(offering.creator.user.email, PASSWORD)
    page = text_of(client.get("/studio/revenue").get_data(as_text=True))
    assert "Payment plans $90 collected in instalments in this period; $45 still to come from 1 running plan" in page
