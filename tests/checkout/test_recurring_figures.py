"""The revenue view's recurring-income card: MRR, churn, collections and what plans still owe, with plans made
by hand in every state, in constant queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from courseplatform.extensions import db
from courseplatform.models import BillingInterval, OrderStatus, PaymentPlan, PaymentProvider, PlanStatus, utcnow
from courseplatform.revenue.figures import Period, revenue_figures

from ..factories import PASSWORD, OrderFactory, UserFactory

START = datetime(2026, 1, 1, tzinfo=UTC)
PERIOD = Period(date(2026, 1, 1), date(2026, 3, 1))


def plan(
    offering,
    *,
    status=PlanStatus.ACTIVE,
    instalments=None,
    cents=4900,
    started=None,
    ended=None,
    interval=BillingInterval.MONTH,
    paid=1,
    currency="USD",
    **kw,
):
    p = PaymentPlan(
        learner=UserFactory(),
        offering=offering,
        provider=PaymentProvider.TEST,
        currency=currency,
        instalments=instalments,
        instalment_cents=cents,
        interval=interval,
        paid_count=paid,
        status=status,
        started_at=started,
        ended_at=ended,
        **kw,
    )
    db.session.add(p)
    db.session.flush()
    return p


def recurring(creator, period=PERIOD):
    return revenue_figures(creator, period, ZoneInfo("UTC")).recurring


def test_churn_counts_only_members_who_were_there_at_the_start(app, creator, circle):
    # One member since last year, still here; one who joined and left inside the period.
    plan(circle, started=START - timedelta(days=40))
    plan(circle, status=PlanStatus.CANCELED, started=START + timedelta(days=5), ended=START + timedelta(days=35))
    r = recurring(creator)
    assert r.members_at_start == 1
    # Nobody who was a member at the start left: churn should be 0, not 100 %.
    assert r.ended_in_period == 0 and r.churn == 0


def test_churn_never_exceeds_one(app, creator, circle):
    plan(circle, status=PlanStatus.CANCELED, started=START - timedelta(days=40), ended=START + timedelta(days=3))
    for d in (5, 10):
        plan(
            circle, status=PlanStatus.CANCELED, started=START + timedelta(days=d), ended=START + timedelta(days=d + 31)
        )
    assert recurring(creator).churn <= 1


def test_yearly_mrr_is_a_twelfth_of_the_sum(app, creator, circle):
    for _ in range(3):
        plan(circle, cents=1000, interval=BillingInterval.YEAR, started=START)
    assert recurring(creator).mrr_cents == 250


def test_yearly_mrr_single(app, creator, circle):
    plan(circle, cents=1000, interval=BillingInterval.YEAR, started=START)
    assert recurring(creator).mrr_cents in (83, 84)


def test_mrr_paused_and_ending(app, creator, circle):
    plan(circle, status=PlanStatus.PAUSED, started=START)
    plan(circle, cancel_at_period_end=True, started=START)
    r = recurring(creator)
    assert r.members == 1 and r.mrr_cents == 4900  # a paused member isn't counted; one ending is, until it ends


def test_other_currency_plans_are_left_out(app, creator, circle):
    plan(circle, currency="EUR", started=START)
    plan(circle, instalments=3, cents=4500, currency="EUR", started=START)
    OrderFactory(offering=circle, currency="EUR", amount_cents=4900, paid_at=START + timedelta(days=1))
    r = recurring(creator)
    assert (r.mrr_cents, r.members, r.plans_running, r.plans_owed_cents, r.membership_cents, r.one_off_cents) == (
        0,
    ) * 6


def test_odd_plans_do_not_break_the_pages(client, web, creator, circle):
    plan(circle, instalments=3, cents=4500, paid=0, started=None)  # running, nothing paid
    plan(circle, instalments=3, cents=4500, paid=0, status=PlanStatus.CANCELED, started=None, ended=None)
    plan(circle, status=PlanStatus.CANCELED, started=None, ended=None)  # a membership with no orders
    plan(circle, status=PlanStatus.PAST_DUE, started=START)
    db.session.commit()
    web.login(creator.user.email, PASSWORD)
    for url in ("/studio/revenue", "/studio/payouts", "/studio/revenue?from=2000-01&to=2004-12", "/studio/revenue.csv"):
        assert client.get(url).status_code in (200, 404), url


def test_far_past_period(app, creator, circle):
    plan(circle, started=START)
    r = recurring(creator, Period(date(1990, 1, 1), date(1990, 12, 1)))
    assert r.members_at_start == 0 and r.ended_in_period == 0 and r.churn is None


def test_titles_are_escaped(client, web, creator, circle):
    circle.title = "<script>alert(1)</script>"
    plan(circle, started=START)
    db.session.commit()
    web.login(creator.user.email, PASSWORD)
    html = client.get("/studio/revenue").get_data(as_text=True)
    assert "<script>alert(1)" not in html


def test_a_late_paid_abandoned_membership_counts_at_the_start_of_a_later_period(app, creator, circle):
    from courseplatform.checkout.plans import plan_not_started, plan_started

    p = plan(circle, status=PlanStatus.PENDING, paid=0)
    order = OrderFactory(
        offering=circle, plan_id=p.id, instalment=1, amount_cents=4900, status=OrderStatus.PENDING, paid_at=None
    )
    plan_not_started(order)  # the checkout lapsed: ABANDONED, ended_at = now
    order.status, order.paid_at = OrderStatus.PAID, utcnow()
    plan_started(order)  # ...then its payment arrived after all: the membership runs
    db.session.flush()
    assert p.status is PlanStatus.ACTIVE
    later = date(utcnow().year + 1, 1, 1)
    r = recurring(creator, Period(later, later))
    assert r.members == 1
    assert r.members_at_start == 1


def test_the_revenue_page_runs_seven_queries_with_plans_and_members(app, client, web, creator, circle, count_queries):
    counts = []
    for size in (1, 20):
        for n in range(size):
            p = plan(
                circle,
                started=utcnow() - timedelta(days=n * 7),
                interval=BillingInterval.YEAR if n % 2 else BillingInterval.MONTH,
            )
            OrderFactory(offering=circle, plan_id=p.id, instalment=1, amount_cents=4900, paid_at=p.started_at)
            q = plan(circle, instalments=3, cents=4500, started=utcnow() - timedelta(days=n), paid=1)
            OrderFactory(offering=circle, plan_id=q.id, instalment=1, amount_cents=4500, paid_at=q.started_at)
            plan(
                circle,
                status=PlanStatus.CANCELED,
                started=utcnow() - timedelta(days=90),
                ended=utcnow() - timedelta(days=n),
            )
        db.session.commit()
        web.login(creator.user.email, PASSWORD)
        with count_queries() as counter:
            assert client.get("/studio/revenue").status_code == 200
        web.logout()
        counts.append(counter.count)
    assert counts[0] == counts[1] and counts[1] <= 7, counts
