"""The platform fee Stripe took on tax, given back: after and before refunds, whatever the fee percentage is now,
with odd job payloads; and the sums without VAT as whole cents in SQL as in Python.

Through the real paths: Buy and webhooks over HTTP, the real stripe library against the fake Stripe (which
keeps Connect application fees and refunds them as Stripe does), refunds through the app's own refund path.
"""

from __future__ import annotations

import sqlalchemy as sa

from courseplatform.checkout.services import refund_order
from courseplatform.extensions import db
from courseplatform.jobs import run_job
from courseplatform.jobs.runner import enqueue
from courseplatform.models import Job, JobStatus, Order, OrderStatus, Refund
from courseplatform.models.plans import PaymentPlan

from ..factories import OrderFactory
from ..test_running_totals import kept_totals, recounted_totals
from .test_stripe_checkout import orders_of
from .test_stripe_plans import run_jobs
from .test_stripe_tax import NY_RATE, bought, set_up_tax
from .test_stripe_tax_edges import _joined, _vat_creator


def _fee_kept_by_app(order: Order) -> int:
    back = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.platform_fee_refunded_cents), 0)).where(
            Refund.order_id == order.id
        )
    )
    return order.platform_fee_cents - back


def _fee_kept_at_stripe(fake, order: Order) -> int:
    fee = fake.application_fees[fake.charges[order.charge_id]["application_fee"]]
    return fee["amount"] - fee["amount_refunded"]


# ---------------------------------------------------------------------------------------------------------------
# A partial refund after the fee on tax went back: the fee refunded is counted on the fee Stripe took
# ---------------------------------------------------------------------------------------------------------------


def test_a_partial_refund_after_the_fee_on_tax_was_returned_records_the_fee_stripe_really_gave_back(
    web, webhooks, tax_on, connected_offering
):
    """€49 with 19 % VAT inside: Stripe took 490, the job gave 78 back (412 kept). Refunding half the charge
    makes Stripe give back 490 × ½ = 245 of the fee (in proportion to the fee it took); the app books the same,
    so what it says the platform kept is what Stripe holds."""
    _vat_creator(web, tax_on, connected_offering)
    order, _ = bought(web, webhooks, connected_offering, country="DE", postal_code="10115")
    (job,) = run_jobs("payments.return_fee_on_tax")
    assert job.result == {"returned": 78}
    [order] = orders_of(order.learner)
    assert _fee_kept_by_app(order) == _fee_kept_at_stripe(tax_on, order) == 412

    refund_order(order, 2450, by=connected_offering.creator.user)
    db.session.commit()
    db.session.expire_all()
    [order] = orders_of(order.learner)

    assert order.status is OrderStatus.PARTIALLY_REFUNDED
    assert kept_totals() == recounted_totals()
    assert _fee_kept_by_app(order) == _fee_kept_at_stripe(tax_on, order)


# ---------------------------------------------------------------------------------------------------------------
# A renewal after the operator changed PLATFORM_FEE_PERCENT: only the fee taken on tax goes back
# ---------------------------------------------------------------------------------------------------------------


def test_a_renewal_after_the_platform_fee_percent_changed_returns_only_the_fee_taken_on_tax(
    web, webhooks, tax_on, stripe_circle, app, monkeypatch
):
    """A $49 membership with NY tax on top started at 10 %: its subscription keeps application_fee_percent 10, so
    each renewal's fee is 10 % of $53.35 = 534, of which 44 is on the tax. The operator lowering the fee to 5 % for
    new sales changes nothing there: 44 goes back, and the platform keeps its 10 % of $49."""
    set_up_tax(web, stripe_circle)
    tax_on.set_tax_rate("US", NY_RATE, state="NY")
    learner, session = _joined(web, webhooks, stripe_circle, country="US", state="NY")
    run_jobs("payments.return_fee_on_tax")

    monkeypatch.setitem(app.config, "PLATFORM_FEE_PERCENT", 5)
    renewal = tax_on.bill_next(session["subscription"])
    assert webhooks.send("invoice.paid", renewal)[1].json["outcome"] == "instalment"
    jobs = run_jobs("payments.return_fee_on_tax")

    [_, second] = orders_of(learner)
    assert (second.amount_cents, second.tax_cents) == (5335, 435)
    fee = tax_on.application_fees[tax_on.charges[second.charge_id]["application_fee"]]
    assert fee["amount"] == 534  # the subscription's own 10 %
    # Only the 10 % taken on the 435 of tax (44) is the creator's; the platform's 10 % of $49 stays with it.
    assert jobs[-1].result == {"returned": 44}
    assert second.platform_fee_cents == 490


# ---------------------------------------------------------------------------------------------------------------
# The discount without VAT: whole cents, the same in SQL as in Python
# ---------------------------------------------------------------------------------------------------------------


def test_the_discount_without_vat_is_a_whole_number_of_cents_in_sql_as_in_python(app, connected_offering):
    """€10 off a €49 price holding VAT: 1000 × 3277 / 3900 = 840.26, 840 in Python and in SQL alike, so a
    ledger row's discount and the sums of many orders agree to the cent."""
    orders = [
        OrderFactory(
            offering=connected_offering,
            amount_cents=3900,
            discount_cents=1000,
            tax_cents=623,
            tax_included=True,
            currency="EUR",
        )
        for _ in range(10)
    ]
    db.session.flush()
    ids = [o.id for o in orders]
    python = [o.revenue_discount_cents for o in orders]
    assert python == [840] * 10
    sql = db.session.scalars(sa.select(Order.revenue_discount_cents).where(Order.id.in_(ids))).all()
    assert sql == python, sql
    total = db.session.scalar(
        sa.select(sa.cast(sa.func.sum(Order.revenue_discount_cents), sa.BigInteger)).where(Order.id.in_(ids))
    )
    assert total == sum(python)


# ---------------------------------------------------------------------------------------------------------------
# A small refund before the job ran: the fee on the tax of what is left still goes back
# ---------------------------------------------------------------------------------------------------------------


def test_a_small_refund_before_the_job_runs_still_returns_the_fee_on_the_tax_left(
    web, webhooks, tax_on, connected_offering
):
    """The job's first try finds Stripe failing (it retries); meanwhile the creator refunds €1 of €49, and Stripe
    gives back 490 × 100 / 4900 = 10 of the fee with it. The retry still gives back the fee on the tax, so the
    platform keeps about 10 % of the income not refunded (not 480)."""
    _vat_creator(web, tax_on, connected_offering)
    # Stripe answers 500 to the job's first try (its read of the charge).
    tax_on.fail_next(1, path_prefix="/v1/charges/")
    order, _ = bought(web, webhooks, connected_offering, country="DE", postal_code="10115")
    [job] = db.session.scalars(sa.select(Job).where(Job.kind == "payments.return_fee_on_tax")).all()
    assert job.status is JobStatus.PENDING

    refund_order(order, 100, by=connected_offering.creator.user)
    db.session.commit()
    job.run_after = job.created_at
    db.session.commit()
    run_job(job.id)
    db.session.expire_all()
    [order] = orders_of(order.learner)

    assert order.status is OrderStatus.PARTIALLY_REFUNDED
    kept = _fee_kept_at_stripe(tax_on, order)
    assert _fee_kept_by_app(order) == kept
    assert kept <= 412 - 8, (job.result, kept)


# ---------------------------------------------------------------------------------------------------------------
# Odd payloads: the job ends with nothing returned, never a crash retried for days
# ---------------------------------------------------------------------------------------------------------------


def test_odd_payloads_end_the_job_with_nothing_returned(app, connected_offering):
    """A payload naming no order (a string, none, an id beyond any integer column, a JSON true) ends the job as
    done with nothing returned: a crash would be retried for days."""
    OrderFactory(offering=connected_offering, tax_cents=100, platform_fee_cents=500, amount_cents=4900)
    db.session.flush()
    payloads = [{"order_id": "1"}, {"order_id": None}, {}, {"order_id": 10**30}, {"order_id": True}]
    jobs = [enqueue("payments.return_fee_on_tax", p) for p in payloads]
    db.session.commit()
    for job in jobs:
        run_job(job.id)
    db.session.expire_all()
    outcomes = [
        (j.payload, j.status, j.result)
        for j in db.session.scalars(sa.select(Job).where(Job.id.in_([j.id for j in jobs])))
    ]
    assert all(status is JobStatus.DONE and result == {"returned": 0} for _, status, result in outcomes), outcomes


# ---------------------------------------------------------------------------------------------------------------
# unpaid_revenue_cents: SQL and Python agree with tax included and big numbers
# ---------------------------------------------------------------------------------------------------------------


def test_unpaid_revenue_sql_and_python_agree(app, plan_offering):
    """24 × a big instalment holding its tax, beyond 32 bits, and a membership (which owes nothing ahead)."""
    from courseplatform.models import PaymentProvider, PlanStatus, utcnow

    from ..factories import UserFactory

    plans = [
        PaymentPlan(
            learner_id=UserFactory().id,
            offering_id=plan_offering.id,
            provider=PaymentProvider.TEST,
            currency=plan_offering.currency,
            instalments=instalments,
            instalment_cents=99_999_999,
            tax_cents=tax,
            tax_included=included,
            paid_count=1,
            status=PlanStatus.ACTIVE,
            started_at=utcnow(),
        )
        for instalments, tax, included in ((24, 15_966_386, True), (24, 19_000_000, False), (None, 7, True))
    ]
    db.session.add_all(plans)
    db.session.flush()
    for plan in plans:
        sql = db.session.scalar(sa.select(PaymentPlan.unpaid_revenue_cents).where(PaymentPlan.id == plan.id))
        assert sql == plan.unpaid_revenue_cents
    assert plans[0].unpaid_revenue_cents == 23 * (99_999_999 - 15_966_386)
