"""Memberships in test mode: joining gives what the membership holds (a consultation group with seats,
a library), each month renews it on the test clock, a failure pauses it, and a cancellation ends it
when the period paid for ends."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from courseplatform.checkout.plans import add_months, give_members
from courseplatform.extensions import db
from courseplatform.integrations.mail import deliver_committed
from courseplatform.jobs.scheduled import bill_test_plans
from courseplatform.models import (
    AccessEvent,
    BillingInterval,
    Enrollment,
    EnrollmentStatus,
    LiveSession,
    OfferingKind,
    OrderStatus,
    PaymentPlan,
    PlanStatus,
    bundle_items,
    utcnow,
)

from ..factories import PASSWORD, EnrollmentFactory, UserFactory
from ..helpers import csrf_token_from
from ..markup import text_of
from .test_test_mode_checkout import buy, offering_with_lesson, orders_of, pay


def holding(creator, *items, price_cents=4900, interval=BillingInterval.MONTH):
    membership, _ = offering_with_lesson(
        creator=creator,
        kind=OfferingKind.MEMBERSHIP,
        price_cents=price_cents,
        billing_interval=interval,
        title="The Consultation Circle",
    )
    db.session.execute(
        sa.insert(bundle_items),
        [{"bundle_id": membership.id, "item_id": o.id, "position": n} for n, o in enumerate(items)],
    )
    db.session.flush()
    db.session.expire(membership, ["bundle_offerings"])
    return membership


def group(creator, capacity=8):
    workshop, _ = offering_with_lesson(
        creator=creator, kind=OfferingKind.LIVE_WORKSHOP, title="Case consultation group", price_cents=9900
    )
    for weeks in (1, 3, 5):  # every other Tuesday, say
        db.session.add(
            LiveSession(
                offering=workshop,
                starts_at=utcnow() + timedelta(weeks=weeks),
                time_zone="America/New_York",
                duration_minutes=90,
                capacity=capacity,
            )
        )
    db.session.flush()
    return workshop


def plan_of(learner) -> PaymentPlan:
    """The learner's latest membership."""
    db.session.expire_all()
    return db.session.scalars(
        sa.select(PaymentPlan).where(PaymentPlan.learner_id == learner.id).order_by(PaymentPlan.id.desc()).limit(1)
    ).one()


def access(learner) -> dict[str, tuple[EnrollmentStatus, AccessEvent]]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Enrollment).where(Enrollment.user_id == learner.id))
    return {e.offering.title: (e.status, e.reason) for e in rows}


def joined(client, web, membership, learner=None, choice="pay"):
    if learner is None:
        learner = UserFactory(name="Sam Lee")
        web.login(learner.email, PASSWORD)
    buy(web, membership)
    [order] = [o for o in orders_of(learner) if o.offering_id == membership.id and o.status is OrderStatus.PENDING]
    pay(client, order, choice)
    return learner, plan_of(learner)


def bill(at):
    figures = bill_test_plans(at)
    deliver_committed()
    return figures


ACTIVE = (EnrollmentStatus.ACTIVE, AccessEvent.PURCHASE)
ENDED = (EnrollmentStatus.REVOKED, AccessEvent.MEMBERSHIP_ENDED)


def test_the_page_sells_a_membership_by_the_month(client, circle):
    page = text_of(client.get(f"/courses/{circle.slug}").get_data(as_text=True))

    assert "$49 a month" in page and "Join for $49 a month" in page
    assert "Renews monthly until you cancel" in page
    assert "Case consultation group" in page and "Recorded case library" in page


def test_joining_gives_the_group_and_the_library_and_each_month_renews(client, web, circle, mailbox):
    learner, plan = joined(client, web, circle)

    assert access(learner) == {"Case consultation group": ACTIVE, "Recorded case library": ACTIVE}
    assert plan.is_membership and plan.status is PlanStatus.ACTIVE and plan.instalment_cents == 4900
    assert plan.next_charge_at == add_months(plan.started_at, 1)
    page = text_of(client.get("/learn").get_data(as_text=True))
    assert "Case consultation group" in page

    assert bill(add_months(plan.started_at, 1))["paid"] == 1
    assert bill(add_months(plan.started_at, 2))["paid"] == 1
    assert [(o.amount_cents, o.status) for o in orders_of(learner)] == [(4900, OrderStatus.PAID)] * 3
    assert plan_of(learner).next_charge_at == add_months(plan.started_at, 3)  # no end: it renews until canceled
    assert (
        mailbox.messages[-1]["Subject"].strip() == "Your membership of The Consultation Circle is renewed: your receipt"
    )
    orders = text_of(client.get("/account/orders").get_data(as_text=True))
    assert "Membership: $49 a month" in orders and "Renews on" in orders and "Cancel membership" in orders


def test_cancelling_keeps_access_to_the_end_of_the_period_then_ends_it(client, web, circle, mailbox):
    learner, plan = joined(client, web, circle)
    orders_page = client.get("/account/orders").get_data(as_text=True)

    client.post(f"/account/plans/{plan.id}/cancel", data={"csrf_token": csrf_token_from(orders_page)})

    plan = plan_of(learner)
    assert plan.cancel_at_period_end and plan.status is PlanStatus.ACTIVE
    assert access(learner)["Case consultation group"] == ACTIVE  # paid until the period's end
    page = text_of(client.get("/account/orders").get_data(as_text=True))
    assert "Canceled: it ends on" in page and "you keep access until then" in page and "Keep my membership" in page

    assert bill(add_months(plan.started_at, 1)) == {"paid": 0, "failed": 0, "paused": 0, "ended": 1}

    assert plan_of(learner).status is PlanStatus.CANCELED
    assert access(learner) == {"Case consultation group": ENDED, "Recorded case library": ENDED}
    assert len(orders_of(learner)) == 1  # nothing more was taken
    assert mailbox.messages[-1]["Subject"] == "Your membership of The Consultation Circle has ended"
    offering_page = text_of(client.get(f"/courses/{circle.slug}").get_data(as_text=True))
    assert "Join for $49 a month" in offering_page

    # Joining again gives it all back, progress kept.
    _, again = joined(client, web, circle, learner=learner)
    assert again.status is PlanStatus.ACTIVE
    assert access(learner)["Case consultation group"] == ACTIVE


def test_keep_my_membership_undoes_a_cancellation(client, web, circle):
    learner, plan = joined(client, web, circle)
    token = csrf_token_from(client.get("/account/orders").get_data(as_text=True))
    client.post(f"/account/plans/{plan.id}/cancel", data={"csrf_token": token})

    client.post(f"/account/plans/{plan.id}/cancel", data={"csrf_token": token, "keep": "1"})

    assert not plan_of(learner).cancel_at_period_end
    assert bill(add_months(plan.started_at, 1))["paid"] == 1


def test_a_failed_renewal_is_retried_then_pauses_the_membership(client, web, circle, mailbox):
    learner, plan = joined(client, web, circle, choice="pay_declining")
    due = add_months(plan.started_at, 1)

    bill(due)
    assert "your membership's renewal" in mailbox.last_body()
    for days in (3, 8, 15):
        bill(due + timedelta(days=days))

    assert plan_of(learner).status is PlanStatus.PAUSED
    assert access(learner)["Case consultation group"] == (EnrollmentStatus.SUSPENDED, AccessEvent.PAYMENT_OVERDUE)


def test_a_member_cant_join_twice(client, web, circle):
    learner, _ = joined(client, web, circle)

    answer = web.submit(f"/courses/{circle.slug}/checkout", {}, form_url=f"/courses/{circle.slug}")

    assert "You're a member" in text_of(answer.get_data(as_text=True)) or "You're already a member" in text_of(
        answer.get_data(as_text=True)
    )
    assert len(orders_of(learner)) == 1


def test_a_full_group_stops_new_members_joining(client, web, creator):
    full = group(creator, capacity=1)
    EnrollmentFactory(offering=full)
    circle = holding(creator, full)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)

    answer = web.submit(f"/courses/{circle.slug}/checkout", {}, form_url=f"/courses/{circle.slug}")

    assert "This membership can't be joined: Case consultation group is full." in text_of(answer.get_data(as_text=True))
    assert orders_of(learner) == []


def test_an_offering_added_to_the_membership_is_given_to_its_members(client, web, creator, circle):
    learner, _ = joined(client, web, circle)
    extra, _ = offering_with_lesson(creator=creator, title="Ethics refresher", price_cents=2900)
    db.session.execute(sa.insert(bundle_items), [{"bundle_id": circle.id, "item_id": extra.id, "position": 9}])
    db.session.expire(circle, ["bundle_offerings"])

    assert give_members(circle) == 1

    assert access(learner)["Ethics refresher"] == ACTIVE


def test_codes_dont_apply_to_memberships(client, web, circle):
    from ..factories import CouponFactory

    CouponFactory(creator=circle.creator, code="WELCOME20")
    learner = UserFactory()
    web.login(learner.email, PASSWORD)

    answer = web.submit(
        f"/courses/{circle.slug}/checkout", {"coupon": "WELCOME20"}, form_url=f"/courses/{circle.slug}?coupon=WELCOME20"
    )

    assert "Codes apply to one-off purchases, not to memberships." in text_of(answer.get_data(as_text=True))


def test_a_yearly_membership_renews_a_year_on(client, web, creator):
    library, _ = offering_with_lesson(creator=creator, title="Library", price_cents=7900)
    yearly = holding(creator, library, price_cents=39000, interval=BillingInterval.YEAR)
    _, plan = joined(client, web, yearly)

    assert plan.next_charge_at == add_months(plan.started_at, 12)
    assert "$390 a year" in text_of(client.get(f"/courses/{yearly.slug}").get_data(as_text=True))


def test_the_ledger_and_my_orders_name_membership_payments(client, web, circle):
    _, plan = joined(client, web, circle)
    bill(add_months(plan.started_at, 1))

    mine = text_of(client.get("/account/orders").get_data(as_text=True))
    assert "membership, payment 2" in mine and "of None" not in mine
    web.logout()
    web.login(circle.creator.user.email, PASSWORD)
    ledger = text_of(client.get("/studio/payouts").get_data(as_text=True))
    assert "membership, payment 2" in ledger and "membership, payment 1" in ledger
    assert "Payment plans:" not in ledger  # a membership owes nothing ahead
    page = text_of(client.get(f"/courses/{circle.slug}").get_data(as_text=True))
    assert "Have a code?" not in page


def test_the_revenue_view_shows_recurring_revenue_churn_and_collections(client, web, creator, circle):
    from datetime import date

    from courseplatform.checkout.plans import add_months as plus
    from courseplatform.revenue.figures import Period, revenue_figures

    _, plan = joined(client, web, circle)
    web.logout()
    leaving, _ = joined(client, web, circle, learner=_logged_in(web))
    token = csrf_token_from(client.get("/account/orders").get_data(as_text=True))
    client.post(f"/account/plans/{plan_of(leaving).id}/cancel", data={"csrf_token": token})
    bill(plus(plan.started_at, 1) + timedelta(days=1))  # the stayer renews, the leaver's membership ends
    yearly_item, _ = offering_with_lesson(creator=creator, title="Yearly library", price_cents=1000)
    yearly = holding(creator, yearly_item, price_cents=12000, interval=BillingInterval.YEAR)
    web.logout()
    joined(client, web, yearly, learner=_logged_in(web))
    db.session.commit()

    today = utcnow().date()
    period = Period(date(today.year - 1, today.month, 1), date(today.year + 1, today.month, 1))
    figures = revenue_figures(creator, period, ZoneInfo("UTC")).recurring

    assert figures.mrr_cents == 4900 + 1000 and figures.members == 2  # $49 a month, and $120 a year as $10
    assert figures.ended_in_period == 0  # the leaver joined inside the period: not churn of its members at the start
    assert figures.membership_cents == 4900 * 3 + 12000
    assert figures.one_off_cents == 0 and figures.plan_cents == 0
    web.logout()
    web.login(creator.user.email, PASSWORD)
    page = text_of(client.get("/studio/revenue").get_data(as_text=True))
    assert "Monthly recurring revenue $59" in page and "2 active members" in page
    assert "0 of the 0 memberships running when it began ended in it" in page


def _logged_in(web):
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    return learner
