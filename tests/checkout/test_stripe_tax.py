"""Stripe Tax: the creator's tax set up in the studio, tax worked out at checkout with their account liable,
booked inside the order and never counted as income, refunded in proportion, shown on receipts, and kept
on a payment plan's later instalments.

Through the real paths: the studio's forms and Buy over HTTP, the real stripe library against the fake
Stripe (which works out tax as Stripe Tax does: only where the liable account is registered), and
webhooks signed with the endpoint's secret.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from courseplatform import stats
from courseplatform.config import ConfigError, read_config
from courseplatform.config import check_config as checked
from courseplatform.extensions import db
from courseplatform.models import OrderStatus, Refund
from courseplatform.revenue.figures import Period, revenue_figures
from courseplatform.studio.payouts.services import earnings

from ..factories import PASSWORD, UserFactory
from ..helpers import csrf_token_from
from ..test_running_totals import kept_totals, recounted_totals
from .test_money_edges import refund_from_studio
from .test_stripe_checkout import buy, orders_of
from .test_stripe_plans import plan_of, run_jobs
from .test_stripe_shapes import log_in_as, page

NY_RATE = "8.875"


def studio_post(web, url: str, data: dict, *, form_url: str = "/studio/payouts/tax"):
    return web.submit(url, data, form_url=form_url, follow_redirects=True)


def set_up_tax(web, offering, *, country="US", state="NY", pricing="exclusive", registrations=(("US", "NY"),)):
    """The creator gives Stripe a head office and registrations through Studio -> Payouts -> Tax."""
    log_in_as(web, offering.creator.user.email)
    answer = studio_post(
        web,
        "/studio/payouts/tax/settings",
        {"country": country, "state": state, "postal_code": "10001", "city": "New York", "pricing": pricing},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    for where, region in registrations:
        kind = "state_sales_tax" if where == "US" else "standard"
        answer = studio_post(
            web,
            "/studio/payouts/tax/registrations",
            {"reg-country": where, "reg-state": region, "reg-kind": kind},
        )
        assert "Tax is now collected" in html.unescape(answer.get_data(as_text=True))
    web.logout()


def bought(web, webhooks, offering, learner_email="ana@example.org", **where):
    """A learner buys, pays on Stripe's page from `where` (country, state, tax_ids), and the webhook books it."""
    learner = UserFactory(email=learner_email)
    web.login(learner.email, PASSWORD)
    answer = buy(web, offering)
    assert answer.status_code == 303
    fake = webhooks.fake
    session_id = next(
        s for s in fake.sessions if fake.sessions[s]["client_reference_id"] == str(orders_of(learner)[0].id)
    )
    paid = fake.complete_session(session_id, **where)
    _, response = webhooks.send("checkout.session.completed", paid)
    assert response.json["outcome"] == "enrolled", response.json
    web.logout()
    [order] = orders_of(learner)
    return order, paid


def on_a_taxed_plan(web, tax_on, offering):
    """The creator collects New York's sales tax; a learner there buys on the offering's payment plan and pays
    the first instalment on Stripe's page. Returns (learner, the completed session)."""
    set_up_tax(web, offering)
    tax_on.set_tax_rate("US", NY_RATE, state="NY")
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    assert buy(web, offering, plan="1").status_code == 303
    (session_id,) = [s["id"] for s in tax_on.sessions.values() if s["mode"] == "subscription"]
    return learner, tax_on.complete_session(session_id, country="US", state="NY")


def test_a_creator_sets_up_tax_in_the_studio_and_stripe_keeps_it(web, tax_on, connected_offering):
    creator = connected_offering.creator
    account = creator.stripe_account_id
    log_in_as(web, creator.user.email)
    assert "Your sales carry no tax yet" in page(web.client, "/studio/payouts/tax")
    assert "Set up tax" in page(web.client, "/studio/payouts")

    studio_post(
        web,
        "/studio/payouts/tax/settings",
        {"country": "US", "state": "NY", "postal_code": "10001", "city": "New York", "pricing": "exclusive"},
    )
    db.session.expire_all()
    assert creator.stripe_tax_active and not creator.prices_include_tax
    settings = tax_on.tax_settings(account)
    assert settings["status"] == "active" and settings["head_office"]["address"]["state"] == "NY"
    assert settings["defaults"]["tax_behavior"] == "exclusive"
    assert "Add where you're registered" in page(web.client, "/studio/payouts/tax")

    studio_post(
        web,
        "/studio/payouts/tax/registrations",
        {"reg-country": "US", "reg-state": "NY", "reg-kind": "state_sales_tax"},
    )
    text = page(web.client, "/studio/payouts/tax")
    assert "Tax is added to your sales in 1 place" in text and "New York, United States" in text
    [registration] = list(tax_on.tax_registrations.values())
    assert registration["country_options"]["us"] == {"state": "NY", "type": "state_sales_tax"}
    # The form shows the head office Stripe has.
    assert 'value="10001"' in text

    answer = studio_post(web, "/studio/payouts/tax/registrations/end", {"registration_id": registration["id"]})
    assert "no longer collected on your sales to learners in New York" in html.unescape(answer.get_data(as_text=True))
    assert tax_on.tax_registrations[registration["id"]]["status"] == "expired"


@pytest.mark.parametrize(
    "url,data,message",
    [
        ("/studio/payouts/tax/settings", {"country": "US", "state": "", "pricing": "exclusive"}, "Choose the state."),
        ("/studio/payouts/tax/settings", {"country": "ZZ", "pricing": "exclusive"}, "Not a valid choice"),
        ("/studio/payouts/tax/settings", {"country": "DE", "city": "Berlin\x00", "pricing": "exclusive"}, None),
        ("/studio/payouts/tax/settings", {"country": "DE", "city": "<script>", "pricing": "exclusive"}, "address"),
        ("/studio/payouts/tax/settings", {"country": "DE", "postal_code": "1" * 400, "pricing": "x"}, None),
        ("/studio/payouts/tax/registrations", {"reg-country": "US", "reg-kind": "state_sales_tax"}, "Choose the state"),
        ("/studio/payouts/tax/registrations", {"reg-country": "US", "reg-state": "NY", "reg-kind": "oss_union"}, "In "),
        ("/studio/payouts/tax/registrations", {"reg-country": "GB", "reg-kind": "simplified"}, "In United Kingdom"),
        ("/studio/payouts/tax/registrations/end", {"registration_id": "taxreg_x'; DROP"}, None),
        ("/studio/payouts/tax/registrations/end", {"registration_id": ""}, None),
    ],
)
def test_hostile_tax_forms_are_refused_and_change_nothing(web, tax_on, connected_offering, url, data, message):
    creator = connected_offering.creator
    log_in_as(web, creator.user.email)

    answer = studio_post(web, url, data)

    assert answer.status_code == 400
    if message:
        assert message in html.unescape(answer.get_data(as_text=True))
    assert tax_on.tax_settings(creator.stripe_account_id)["status"] == "pending"
    assert tax_on.tax_registrations == {}
    assert tax_on.find_requests("POST", "/v1/tax/settings") == []
    db.session.expire_all()
    assert not creator.stripe_tax_active


def test_another_accounts_registration_cant_be_ended_from_my_studio(web, tax_on, connected_offering):
    other = tax_on.add_account(charges_enabled=True, details_submitted=True)
    theirs = tax_on.register_for_tax("US", state="CA", account_id=other["id"])
    log_in_as(web, connected_offering.creator.user.email)

    answer = studio_post(web, "/studio/payouts/tax/registrations/end", {"registration_id": theirs["id"]})

    assert answer.status_code == 200 and "no longer collected" not in answer.get_data(as_text=True)
    assert tax_on.tax_registrations[theirs["id"]]["status"] == "active"


def test_tax_added_at_checkout_is_booked_inside_the_order_and_never_counted_as_income(
    web, webhooks, tax_on, connected_offering, mailbox
):
    set_up_tax(web, connected_offering)
    tax_on.set_tax_rate("US", NY_RATE, state="NY")
    account = connected_offering.creator.stripe_account_id

    order, session = bought(web, webhooks, connected_offering, country="US", state="NY", postal_code="10001")

    (created,) = tax_on.find_requests("POST", "/v1/checkout/sessions")
    params = created.params
    assert params["automatic_tax"] == {"enabled": "true", "liability": {"type": "account", "account": account}}
    assert params["tax_id_collection"] == {"enabled": "true"}
    assert params["line_items"][0]["price_data"]["tax_behavior"] == "exclusive"
    assert params["line_items"][0]["price_data"]["product_data"]["tax_code"] == "txcd_10000000"
    assert params["payment_intent_data"]["on_behalf_of"] == account
    assert params["payment_intent_data"]["application_fee_amount"] == "490"  # on the price, not the tax
    # $49 and 8.875 % of it, added on top: $4.35.
    assert session["total_details"]["amount_tax"] == 435 and session["amount_total"] == 5335
    assert (order.status, order.amount_cents, order.tax_cents, order.tax_included) == (
        OrderStatus.PAID,
        5335,
        435,
        False,
    )
    assert order.list_price_cents == 4900 and order.revenue_cents == 4900
    assert order.platform_fee_cents == 490
    assert order.sale_net_cents == 4900 - order.processor_fee_cents - 490

    # The receipt (e-mail and page) shows the price, the tax and what was paid.
    body = mailbox.last_body()
    assert "Price:     $49\n" in body and "Tax:       $4.35" in body and "Paid:      $53.35" in body
    log_in_as(web, order.learner.email)
    receipt = " ".join(page(web.client, f"/account/orders/{order.id}").split())
    assert "<dt>Price</dt><dd>$49</dd>" in receipt and "<dt>Tax</dt><dd>$4.35</dd>" in receipt
    assert '<dd class="checkout-amount">$53.35</dd>' in receipt

    # Income: the ledger, the running totals and the revenue view count $49, never the tax.
    ledger = earnings(connected_offering.creator)
    [totals] = ledger.totals
    assert (totals.gross_cents, totals.tax_cents) == (4900, 435)
    assert totals.net_cents == order.sale_net_cents
    assert ledger.rows[0].amount_cents == 4900 and ledger.rows[0].tax_cents == 435
    assert kept_totals() == recounted_totals()
    sales = db.session.get(stats.OfferingSales, (connected_offering.id, "USD"))
    assert (sales.gross_cents, sales.net_cents) == (4900, order.sale_net_cents)
    now = datetime.now(UTC)
    figures = revenue_figures(connected_offering.creator, Period.ending(now.date(), 1), ZoneInfo("UTC"), now)
    [row] = figures.offerings_page.items
    assert (row.gross_cents, row.net_cents) == (4900, order.sale_net_cents)
    assert figures.months[-1].passive_cents == order.sale_net_cents
    log_in_as(web, connected_offering.creator.user.email)
    ledger_page = page(web.client, "/studio/payouts")
    assert "+ $4.35 tax" in ledger_page and "Sales tax and VAT collected with these sales: $4.35" in ledger_page


def test_refunds_give_back_the_tax_in_proportion_and_all_of_it_in_the_end(web, webhooks, tax_on, connected_offering):
    set_up_tax(web, connected_offering)
    tax_on.set_tax_rate("US", NY_RATE, state="NY")
    order, _ = bought(web, webhooks, connected_offering, country="US", state="NY")
    log_in_as(web, connected_offering.creator.user.email)

    refund_from_studio(web, connected_offering, order, "26.67")  # half of $53.35, rounded down
    refund_from_studio(web, connected_offering, order, "26.68")

    db.session.expire_all()
    refunds = db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id).order_by(Refund.id)).all()
    assert [(r.amount_cents, r.tax_cents) for r in refunds] == [(2667, 217), (2668, 218)]
    assert sum(r.tax_cents for r in refunds) == order.tax_cents
    [totals] = earnings(connected_offering.creator).totals
    assert (totals.gross_cents, totals.refunded_cents, totals.tax_cents) == (4900, 4900, 0)
    # Stripe keeps its processing fee: that is all the creator is out.
    assert totals.net_cents == -order.processor_fee_cents
    assert kept_totals() == recounted_totals()
    assert db.session.get(type(order), order.id).status is OrderStatus.REFUNDED


def test_prices_that_include_tax_hold_it_and_the_creator_keeps_the_price_less_the_tax(
    web, webhooks, tax_on, connected_offering
):
    set_up_tax(web, connected_offering, country="DE", state="", pricing="inclusive", registrations=(("DE", ""),))
    tax_on.set_tax_rate("DE", "19")

    order, session = bought(web, webhooks, connected_offering, country="DE", postal_code="10115")

    (created,) = tax_on.find_requests("POST", "/v1/checkout/sessions")
    assert created.params["line_items"][0]["price_data"]["tax_behavior"] == "inclusive"
    # €49 holds 19 % VAT: 49 − 49 / 1.19 = 7.82.
    assert session["amount_total"] == 4900 and session["total_details"]["amount_tax"] == 782
    assert (order.amount_cents, order.tax_cents, order.tax_included) == (4900, 782, True)
    assert order.list_price_cents == 4900 and order.revenue_cents == 4118
    [totals] = earnings(connected_offering.creator).totals
    assert (totals.gross_cents, totals.tax_cents) == (4118, 782)


def test_a_business_buyers_vat_id_is_kept_for_the_receipt_and_reverse_charge_takes_no_tax(
    web, webhooks, tax_on, connected_offering, mailbox
):
    set_up_tax(web, connected_offering, registrations=(("US", "NY"), ("DE", "")))
    tax_on.set_tax_rate("DE", "19")

    order, _ = bought(web, webhooks, connected_offering, country="DE", tax_ids=[("eu_vat", "DE123456789")])

    assert (order.amount_cents, order.tax_cents) == (4900, 0)
    assert (order.buyer_tax_id_type, order.buyer_tax_id) == ("eu_vat", "DE123456789")
    assert "Tax id:    EU VAT DE123456789 (no tax charged)" in mailbox.last_body()
    log_in_as(web, order.learner.email)
    receipt = page(web.client, f"/account/orders/{order.id}")
    assert "EU VAT DE123456789 · no tax charged" in receipt


def test_where_the_creator_isnt_registered_no_tax_is_added(web, webhooks, tax_on, connected_offering):
    set_up_tax(web, connected_offering)
    tax_on.set_tax_rate("US", "7.25", state="CA")

    order, _ = bought(web, webhooks, connected_offering, country="US", state="CA")

    assert (order.amount_cents, order.tax_cents) == (4900, 0)


def test_a_creator_without_a_head_office_sells_without_tax(web, webhooks, tax_on, connected_offering):
    order, _ = bought(web, webhooks, connected_offering, country="US", state="NY")

    (created,) = tax_on.find_requests("POST", "/v1/checkout/sessions")
    assert "automatic_tax" not in created.params and "on_behalf_of" not in created.params["payment_intent_data"]
    assert (order.amount_cents, order.tax_cents) == (4900, 0)


def test_a_payment_plan_carries_its_tax_on_every_instalment_after_the_schedule_replaces_its_phase(
    web, webhooks, tax_on, plan_offering
):
    learner, session = on_a_taxed_plan(web, tax_on, plan_offering)
    account = plan_offering.creator.stripe_account_id
    (created,) = tax_on.find_requests("POST", "/v1/checkout/sessions")
    data = created.params["subscription_data"]
    assert data["on_behalf_of"] == account
    assert data["invoice_settings"]["issuer"] == {"type": "account", "account": account}
    assert created.params["automatic_tax"]["liability"] == {"type": "account", "account": account}

    assert webhooks.send("checkout.session.completed", session)[1].json["outcome"] == "enrolled"
    (job,) = run_jobs("payments.plan_schedule")
    assert job.result == {"scheduled": True}
    (updated,) = [r for r in tax_on.find_requests("POST") if r.path.startswith("/v1/subscription_schedules/sub_sched")]
    phase = updated.params["phases"][0]
    assert phase["automatic_tax"] == {"enabled": "true", "liability": {"type": "account", "account": account}}
    assert phase["on_behalf_of"] == account

    second = tax_on.bill_next(session["subscription"])
    assert webhooks.send("invoice.paid", second)[1].json["outcome"] == "instalment"

    # $45 a month and 8.875 % of it on top, on the first payment and on the one after the schedule took over.
    assert [(o.instalment, o.amount_cents, o.tax_cents, o.revenue_cents) for o in orders_of(learner)] == [
        (1, 4899, 399, 4500),
        (2, 4899, 399, 4500),
    ]
    plan = plan_of(learner)
    assert (plan.paid_count, plan.unpaid_cents) == (2, 4500)
    assert (plan.tax_cents, plan.charge_cents) == (399, 4899)
    log_in_as(web, learner.email)
    orders_page = " ".join(page(web.client, "/account/orders").split())
    assert "$90 of $135 before tax" in orders_page and "Next $48.99 ($45 and $3.99 tax) on" in orders_page

    # Stripe took 10 % of each invoice's total, tax included (490); 40 of each went back to the creator.
    assert [
        tax_on.application_fees[tax_on.charges[o.charge_id]["application_fee"]]["amount"] for o in orders_of(learner)
    ] == [490, 490]
    jobs = run_jobs("payments.return_fee_on_tax")
    assert [job.result for job in jobs] == [{"returned": 40}, {"returned": 40}]
    assert [o.platform_fee_cents for o in orders_of(learner)] == [450, 450]


def test_a_signed_checkout_with_an_impossible_tax_amount_is_not_booked(web, webhooks, tax_on, connected_offering):
    set_up_tax(web, connected_offering)
    tax_on.set_tax_rate("US", NY_RATE, state="NY")
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, connected_offering)
    [order] = orders_of(learner)
    paid = tax_on.complete_session(order.checkout_id, country="US", state="NY")

    for details, expected in (
        ({"amount_tax": -5}, 400),
        ({"amount_tax": "435"}, 400),
        ({"amount_tax": 10**15}, 400),
        ({"amount_tax": 100}, 200),  # signed, well formed, but not what was charged: left for someone to look at
    ):
        forged = {**paid, "total_details": {**paid["total_details"], **details}}
        _, response = webhooks.send("checkout.session.completed", forged)
        assert response.status_code == expected, (details, response.json)
        if expected == 200:
            assert response.json["outcome"] == "mismatch"
    [order] = orders_of(learner)
    assert order.status is OrderStatus.PENDING and order.tax_cents == 0


@pytest.mark.parametrize(
    "env,message",
    [
        ({"STRIPE_TAX": "on"}, "STRIPE_TAX needs STRIPE_SECRET_KEY"),
        ({"STRIPE_TAX": "maybe", "STRIPE_SECRET_KEY": "sk_test_x"}, "STRIPE_TAX must be on or off"),
        ({"STRIPE_TAX_ID_COLLECTION": "on", "STRIPE_SECRET_KEY": "sk_test_x"}, "needs STRIPE_TAX=on"),
        ({"STRIPE_TAX": "on", "STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_TAX_CODE": "digital"}, "product tax codes"),
    ],
)
def test_tax_settings_that_cant_work_are_refused_at_start(monkeypatch, tmp_path, env, message):
    for key in ("STRIPE_TAX", "STRIPE_TAX_ID_COLLECTION", "STRIPE_TAX_CODE", "STRIPE_SECRET_KEY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        checked(read_config(tmp_path, {"TESTING": True}))


def test_tax_forms_post_with_a_token(web, tax_on, connected_offering):
    """The tax page's forms carry their CSRF token (a page the hostile-input walk can't open without Stripe Tax)."""
    log_in_as(web, connected_offering.creator.user.email)
    text = page(web.client, "/studio/payouts/tax")
    assert csrf_token_from(text)
    assert text.count('action="/studio/payouts/tax/') == 2  # the settings and a new registration


def test_settings_stripe_no_longer_finds_active_stop_tax_on_checkouts_until_they_are_again(
    web, webhooks, tax_on, connected_offering
):
    set_up_tax(web, connected_offering)
    account = connected_offering.creator.stripe_account_id
    settings = tax_on.clear_tax_settings(account)  # at Stripe, the head office is gone

    # An older event saying "active" delivered late: Stripe's settings as they are now win.
    stale = {**settings, "status": "active"}
    _, response = webhooks.send("tax.settings.updated", stale, account=account)

    assert response.json["outcome"] == "tax_settings_updated"
    db.session.expire_all()
    assert not connected_offering.creator.stripe_tax_active
    order, _ = bought(web, webhooks, connected_offering, country="US", state="NY")
    (created,) = tax_on.find_requests("POST", "/v1/checkout/sessions")
    assert "automatic_tax" not in created.params and order.tax_cents == 0

    # The platform's own settings changing is nothing of a creator's.
    _, response = webhooks.send("tax.settings.updated", settings)
    assert response.json["outcome"] == "ignored"


def test_a_tax_settings_event_of_a_shape_stripe_never_sends_is_refused(web, webhooks, tax_on, connected_offering):
    account = connected_offering.creator.stripe_account_id
    settings = tax_on.tax_settings(account)

    _, response = webhooks.send("tax.settings.updated", {**settings, "status": ["active"]}, account=account)

    assert response.status_code == 400
    db.session.expire_all()
    assert not connected_offering.creator.stripe_tax_active
