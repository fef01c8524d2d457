"""Stripe Tax at its edges: prices holding VAT (the platform fee, list prices, recurring revenue), tax ids Stripe
types with more than one part, odd invoice taxes, what a renewal will charge, and Stripe out of reach.

Through the same real paths as tests/checkout/test_stripe_tax.py: the studio's forms and Buy over HTTP, the real
stripe library against the fake Stripe, and webhooks signed with the endpoint's secret.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from courseplatform.checkout.services import platform_fee
from courseplatform.jobs import run_job
from courseplatform.revenue.figures import Period, revenue_figures

from ..factories import PASSWORD, CouponFactory, UserFactory
from ..markup import text_of
from ..test_running_totals import kept_totals, recounted_totals
from .test_stripe_checkout import buy, orders_of
from .test_stripe_plans import plan_of, run_jobs
from .test_stripe_shapes import log_in_as
from .test_stripe_tax import NY_RATE, bought, on_a_taxed_plan, set_up_tax


def _vat_creator(web, tax_on, offering):
    """A creator in Germany whose prices include 19 % VAT, registered there."""
    set_up_tax(web, offering, country="DE", state="", pricing="inclusive", registrations=(("DE", ""),))
    tax_on.set_tax_rate("DE", "19")


def _bought_with_code(web, webhooks, offering, code, **where):
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    assert buy(web, offering, coupon=code).status_code == 303
    [order] = orders_of(learner)
    paid = webhooks.fake.complete_session(order.checkout_id, **where)
    assert webhooks.send("checkout.session.completed", paid)[1].json["outcome"] == "enrolled"
    web.logout()
    [order] = orders_of(learner)
    return order


def _joined(web, webhooks, membership, **where):
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    assert buy(web, membership).status_code == 303
    fake = webhooks.fake
    (session,) = [s for s in fake.sessions.values() if s["mode"] == "subscription"]
    session = fake.complete_session(session["id"], **where)
    assert webhooks.send("checkout.session.completed", session)[1].json["outcome"] == "enrolled"
    web.logout()
    return learner, session


# ---------------------------------------------------------------------------------------------------------------
# Prices that include VAT: the platform's percentage is of the price without it
# ---------------------------------------------------------------------------------------------------------------


def test_with_prices_including_vat_the_platform_fee_is_not_taken_on_the_vat(
    web,
    webhooks,
    tax_on,
    connected_offering,
):
    """With inclusive pricing the fee is asked at session creation on the whole €49 (VAT inside), before anyone
    knows the VAT: the 10 % of the €7.82 VAT goes back to the creator as an application fee refund, once."""
    _vat_creator(web, tax_on, connected_offering)

    order, _ = bought(web, webhooks, connected_offering, country="DE", postal_code="10115")
    fee_id = tax_on.charges[order.charge_id]["application_fee"]

    (job,) = run_jobs("payments.return_fee_on_tax")
    run_job(job.id)  # a second run gives nothing back twice

    [order] = orders_of(order.learner)
    assert (order.amount_cents, order.tax_cents, order.revenue_cents) == (4900, 782, 4118)
    # 10 % of what was paid for the offering (4118) is 412, not 490 (10 % of price and VAT together).
    assert job.result == {"returned": 78}
    assert order.platform_fee_cents == platform_fee(order.revenue_cents) == 412
    assert order.sale_net_cents == 4118 - order.processor_fee_cents - 412
    fee = tax_on.application_fees[fee_id]
    assert (fee["amount"], fee["amount_refunded"]) == (490, 78)
    assert kept_totals() == recounted_totals()


# ---------------------------------------------------------------------------------------------------------------
# Prices that include VAT, with a code: list price = gross + discount, all without VAT
# ---------------------------------------------------------------------------------------------------------------


def test_with_prices_including_vat_and_a_code_the_list_price_figures_are_a_real_list_price(
    web,
    webhooks,
    tax_on,
    connected_offering,
):
    """€49 with €10 off (VAT inside both): the learner pays €39 holding €6.23 VAT, €32.77 is income. The figures
    count the discount without its VAT too, so the list price they imply is €49 without VAT (€41.18), never a mix
    of an amount without VAT and a discount with it (€42.77)."""
    _vat_creator(web, tax_on, connected_offering)
    CouponFactory(creator=connected_offering.creator, code="TEN", amount=True, amount_off_cents=1000)

    order = _bought_with_code(web, webhooks, connected_offering, "TEN", country="DE", postal_code="10115")

    assert (order.amount_cents, order.discount_cents, order.tax_cents, order.tax_included) == (3900, 1000, 623, True)
    assert order.list_price_cents == 4900
    now = datetime.now(UTC)
    figures = revenue_figures(connected_offering.creator, Period.ending(now.date(), 1), ZoneInfo("UTC"), now)
    [row] = figures.offerings_page.items
    # The table's list price is gross + discount, both without VAT: €49 less the VAT it holds, to the cent
    # (the VAT of the price and of the discount are each rounded).
    assert abs(row.gross_cents + row.discount_cents - 4118) <= 1, row.gross_cents + row.discount_cents

    log_in_as(web, connected_offering.creator.user.email)
    revenue = text_of(web.client.get("/studio/revenue").get_data(as_text=True))
    ledger = text_of(web.client.get("/studio/payouts").get_data(as_text=True))
    assert "42.77" not in revenue
    assert "42.77" not in ledger


# ---------------------------------------------------------------------------------------------------------------
# Memberships priced with VAT inside: recurring revenue leaves the VAT out
# ---------------------------------------------------------------------------------------------------------------


def test_monthly_recurring_revenue_of_a_vat_inclusive_membership_leaves_the_vat_out(
    web,
    webhooks,
    tax_on,
    stripe_circle,
):
    """A member paying €49 with VAT inside brings €41.18 of income a month: that is the recurring revenue, as the
    card's "membership payments collected" beside it says."""
    _vat_creator(web, tax_on, stripe_circle)

    learner, _ = _joined(web, webhooks, stripe_circle, country="DE", postal_code="10115")

    [first] = orders_of(learner)
    assert (first.amount_cents, first.tax_cents, first.revenue_cents) == (4900, 782, 4118)
    now = datetime.now(UTC)
    recurring = revenue_figures(stripe_circle.creator, Period.ending(now.date(), 1), ZoneInfo("UTC"), now).recurring
    assert recurring.membership_cents == 4118
    assert recurring.mrr_cents == 4118


# ---------------------------------------------------------------------------------------------------------------
# Tax ids Stripe types in three parts (ca_gst_hst, eu_oss_vat) reach the receipt
# ---------------------------------------------------------------------------------------------------------------


def test_a_canadian_business_buyers_gst_hst_number_is_kept_for_the_receipt(
    web,
    webhooks,
    tax_on,
    connected_offering,
    mailbox,
):
    """A Canadian business buying with its GST/HST number (Stripe's type `ca_gst_hst`) pays no GST, and its receipt
    says why: the number is kept and printed."""
    set_up_tax(web, connected_offering, registrations=(("US", "NY"),))
    order, session = bought(
        web, webhooks, connected_offering, country="CA", state="ON", tax_ids=[("ca_gst_hst", "123456789RT0001")]
    )

    assert session["customer_details"]["tax_ids"] == [{"type": "ca_gst_hst", "value": "123456789RT0001"}]
    assert (order.buyer_tax_id_type, order.buyer_tax_id) == ("ca_gst_hst", "123456789RT0001")
    assert "123456789RT0001" in mailbox.last_body()


# ---------------------------------------------------------------------------------------------------------------
# A signed invoice whose tax carries an odd tax_behavior: refused, not a crash
# ---------------------------------------------------------------------------------------------------------------


def test_an_invoice_tax_with_an_unhashable_tax_behavior_is_refused_not_a_crash(
    web,
    webhooks,
    tax_on,
    plan_offering,
):
    """A list or an object as a tax's `tax_behavior` is a shape Stripe never sends: refused with a 400 like every
    other malformed field (a 500 would have Stripe retry it for days), and nothing is booked."""
    learner, session = on_a_taxed_plan(web, tax_on, plan_offering)
    assert webhooks.send("checkout.session.completed", session)[1].json["outcome"] == "enrolled"
    second = tax_on.bill_next(session["subscription"])
    assert second["total_taxes"] and second["total_taxes"][0]["amount"] == 399

    for odd in (["exclusive"], {"kind": "exclusive"}):
        forged = {**second, "total_taxes": [{**second["total_taxes"][0], "tax_behavior": odd}]}
        _, response = webhooks.send("invoice.paid", forged)
        assert response.status_code == 400, (odd, response.status_code)
    assert plan_of(learner).paid_count == 1


# ---------------------------------------------------------------------------------------------------------------
# A membership with tax added on top: the receipt says what the renewal will charge
# ---------------------------------------------------------------------------------------------------------------


def test_a_membership_renewal_receipt_states_what_the_next_renewal_will_charge(
    web,
    webhooks,
    tax_on,
    stripe_circle,
    mailbox,
):
    """With tax added on top, every renewal charges the tax again: the receipt says the next renewal charges $53.35
    ($49 and $4.35 tax), not $49."""
    set_up_tax(web, stripe_circle)
    tax_on.set_tax_rate("US", NY_RATE, state="NY")
    learner, session = _joined(web, webhooks, stripe_circle, country="US", state="NY")

    renewal = tax_on.bill_next(session["subscription"])
    assert webhooks.send("invoice.paid", renewal)[1].json["outcome"] == "instalment"

    [_, second] = orders_of(learner)
    assert (second.amount_cents, second.tax_cents) == (5335, 435)
    body = mailbox.last_body()
    assert "Paid:      $53.35" in body
    [renews] = [line for line in body.splitlines() if line.startswith("Renews:")]
    assert "for $53.35 ($49 and $4.35 tax), until you cancel" in renews, renews


# ---------------------------------------------------------------------------------------------------------------
# Stripe unreachable: the tax page says so, and not that no tax is collected
# ---------------------------------------------------------------------------------------------------------------


def test_the_tax_page_doesnt_say_no_tax_is_collected_when_stripe_cant_be_reached(
    web,
    tax_on,
    connected_offering,
):
    """With Stripe down the page says it couldn't reach Stripe and what was last known, rather than telling a
    creator who collects tax in New York that no tax is added to their sales."""
    set_up_tax(web, connected_offering)
    log_in_as(web, connected_offering.creator.user.email)
    assert "Tax is added to your sales in 1 place" in text_of(
        web.client.get("/studio/payouts/tax").get_data(as_text=True)
    )

    tax_on.go_down()
    try:
        text = text_of(web.client.get("/studio/payouts/tax").get_data(as_text=True))
    finally:
        tax_on.come_back()

    assert "couldn't reach" in text
    assert "no tax is added to your sales yet" not in text
    assert "No registrations" not in text
