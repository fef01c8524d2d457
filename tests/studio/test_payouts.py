"""Creators connect Stripe from /studio/payouts, and see what every sale earned them."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest

from courseplatform.extensions import db
from courseplatform.models import OfferingStatus, OrderStatus, Refund, utcnow
from courseplatform.studio.payouts.services import earnings

from ..factories import (
    PASSWORD,
    CreatorProfileFactory,
    LessonFactory,
    OfferingFactory,
    OrderFactory,
    SectionFactory,
    UserFactory,
)
from ..fakes.stripe_api import FakeStripe
from ..helpers import csrf_token_from

WEBHOOK_SECRET = "whsec_test"


@contextmanager
def stripe_mode(app, fake: FakeStripe):
    """The app talks to this fake Stripe for the duration; the configuration is put back afterwards."""
    settings = {
        "STRIPE_SECRET_KEY": "sk_test_fake",
        "STRIPE_API_BASE": fake.url,
        "STRIPE_MAX_RETRIES": 0,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    missing = object()
    saved = {key: app.config.get(key, missing) for key in settings}
    app.config.update(settings)
    try:
        yield fake
    finally:
        for key, value in saved.items():
            if value is missing:
                app.config.pop(key, None)
            else:
                app.config[key] = value


@pytest.fixture
def stripe(app):
    """A fake Stripe over HTTP on loopback, with the app pointed at it."""
    fake = FakeStripe().start()
    try:
        with stripe_mode(app, fake):
            yield fake
    finally:
        fake.stop()


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org")
    web.login("maya@example.org", PASSWORD)
    return profile


def connect(web, *, follow_redirects: bool = False):
    """Press "Connect with Stripe" (or "Continue onboarding") on the payouts page."""
    return web.submit("/studio/payouts/connect", {}, form_url="/studio/payouts", follow_redirects=follow_redirects)


def deliver(client, fake: FakeStripe, event: dict):
    body, headers = fake.signed(event, WEBHOOK_SECRET)
    return client.post("/webhooks/stripe", data=body, headers=headers)


def page(client, url: str = "/studio/payouts") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


# ---------------------------------------------------------------------------
# Test mode
# ---------------------------------------------------------------------------


def test_test_mode_says_no_money_moves_and_offers_nothing_to_connect(client, creator):
    html = page(client)
    assert "Payments are in test mode" in html
    assert "No real money moves" in html
    assert "estimated (2.9% + $0.30)" in html
    assert "Connect with Stripe" not in html and "/studio/payouts/connect" not in html


def test_connect_in_test_mode_changes_nothing(web, client, creator):
    token = csrf_token_from(page(client))
    html = client.post("/studio/payouts/connect", data={"csrf_token": token}, follow_redirects=True).get_data(
        as_text=True
    )
    assert "Payments are in test mode: there is no Stripe account to connect." in html
    db.session.refresh(creator)
    assert creator.stripe_account_id is None


def test_paid_offering_publishes_in_test_mode_without_stripe(web, creator):
    offering = OfferingFactory(creator=creator, status=OfferingStatus.DRAFT, price_cents=4900)
    LessonFactory(section=SectionFactory(offering=offering))
    html = web.submit(f"/studio/courses/{offering.id}/publish", {}, form_url=f"/studio/courses/{offering.id}").get_data(
        as_text=True
    )
    assert "Published: your offering is in the catalog." in html
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.PUBLISHED


def test_studio_dashboard_links_to_payouts(client, creator):
    assert 'href="/studio/payouts"' in page(client, "/studio")


# ---------------------------------------------------------------------------
# Connecting with Stripe
# ---------------------------------------------------------------------------


def test_not_connected_offers_connect_with_stripe(client, creator, stripe):
    html = page(client)
    assert "Not connected" in html and "Connect with Stripe" in html
    assert "Payments are in test mode" not in html
    assert "Connect Stripe to sell" in page(client, "/studio")


def test_connect_creates_an_account_with_the_creators_email_and_goes_to_stripe(web, creator, stripe):
    response = connect(web)
    db.session.refresh(creator)
    account_id = creator.stripe_account_id
    assert account_id in stripe.accounts
    assert stripe.accounts[account_id]["email"] == "maya@example.org"
    assert stripe.accounts[account_id]["type"] == "express"
    assert response.status_code == 303
    assert response.headers["Location"] == f"{stripe.url}/onboard/{account_id}"
    (link,) = stripe.account_links
    assert link["account"] == account_id and link["type"] == "account_onboarding"
    assert link["refresh_url"] == "http://aqueduct.test/studio/payouts/refresh"
    assert link["return_url"] == "http://aqueduct.test/studio/payouts/return"


def test_a_second_connect_reuses_the_account(web, client, creator, stripe):
    connect(web)
    db.session.refresh(creator)
    first = creator.stripe_account_id
    assert "Onboarding not finished" in page(client)
    assert "Continue onboarding" in page(client)

    response = connect(web)
    db.session.refresh(creator)
    assert creator.stripe_account_id == first
    assert response.headers["Location"] == f"{stripe.url}/onboard/{first}"
    assert len(stripe.find_requests("POST", "/v1/accounts")) == 1
    assert len(stripe.account_links) == 2


def test_return_from_stripe_keeps_the_status_and_says_what_it_means(web, client, creator, stripe):
    connect(web)
    db.session.refresh(creator)
    account_id = creator.stripe_account_id

    html = client.get("/studio/payouts/return", follow_redirects=True).get_data(as_text=True)
    assert "Stripe still needs a few details" in html and "Onboarding not finished" in html

    stripe.update_account(account_id, charges_enabled=False, details_submitted=True, payouts_enabled=False)
    html = client.get("/studio/payouts/return", follow_redirects=True).get_data(as_text=True)
    assert "Stripe has your details and is reviewing them" in html
    assert "Stripe is reviewing" in html
    db.session.refresh(creator)
    assert (creator.stripe_details_submitted, creator.stripe_charges_enabled) == (True, False)

    stripe.update_account(account_id, charges_enabled=True, details_submitted=True, payouts_enabled=True)
    html = client.get("/studio/payouts/return", follow_redirects=True).get_data(as_text=True)
    assert "Stripe is connected: you can publish paid offerings and take payments." in html
    assert "Ready to take payments" in html and "Payouts to your bank:\n" in html
    db.session.refresh(creator)
    assert (creator.stripe_charges_enabled, creator.stripe_payouts_enabled) == (True, True)
    assert "Connect with Stripe" not in html and "Continue onboarding" not in html


def test_ready_without_payouts_still_asks_for_bank_details(web, client, creator, stripe):
    connect(web)
    db.session.refresh(creator)
    stripe.update_account(
        creator.stripe_account_id, charges_enabled=True, details_submitted=True, payouts_enabled=False
    )
    html = client.get("/studio/payouts/return", follow_redirects=True).get_data(as_text=True)
    assert "Stripe still needs your bank details before it can send you payouts." in html
    assert "Ready to take payments" in html and "Continue onboarding" in html


def test_return_while_stripe_is_down_says_the_status_will_follow(web, client, creator, stripe):
    connect(web)
    stripe.go_down()
    try:
        response = client.get("/studio/payouts/return")
        html = client.get(response.headers["Location"]).get_data(as_text=True)
    finally:
        stripe.come_back()
    assert response.headers["Location"] == "/studio/payouts"
    assert "Your status will update here shortly" in html
    db.session.refresh(creator)
    assert creator.stripe_account_id and not creator.stripe_details_submitted


def test_refresh_gives_a_fresh_onboarding_link(web, client, creator, stripe):
    connect(web)
    db.session.refresh(creator)
    response = client.get("/studio/payouts/refresh")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{stripe.url}/onboard/{creator.stripe_account_id}"
    assert len(stripe.account_links) == 2
    assert len(stripe.find_requests("POST", "/v1/accounts")) == 1


def test_refresh_without_an_account_goes_back_to_payouts(client, creator, stripe):
    html = client.get("/studio/payouts/refresh", follow_redirects=True).get_data(as_text=True)
    assert "Connect with Stripe first" in html
    assert stripe.account_links == []


def test_account_updated_webhook_makes_the_creator_ready(web, client, creator, stripe):
    connect(web)
    db.session.refresh(creator)
    account = stripe.update_account(
        creator.stripe_account_id, charges_enabled=True, details_submitted=True, payouts_enabled=True
    )
    response = deliver(client, stripe, stripe.event("account.updated", account, account=account["id"]))
    assert response.status_code == 200 and response.get_json()["outcome"] == "account_updated"
    db.session.refresh(creator)
    assert creator.stripe_charges_enabled and creator.stripe_payouts_enabled
    assert "Ready to take payments" in page(client)


def test_paid_offering_waits_for_stripe_to_enable_charges(web, client, creator, stripe):
    offering = OfferingFactory(creator=creator, status=OfferingStatus.DRAFT, price_cents=4900)
    LessonFactory(section=SectionFactory(offering=offering))
    overview = f"/studio/courses/{offering.id}"
    html = web.submit(f"{overview}/publish", {}, form_url=overview).get_data(as_text=True)
    assert "Not published yet." in html and "Connect your Stripe account so you can be paid" in html
    assert '(<a href="/studio/payouts">Payouts</a>)' in html

    connect(web)
    db.session.refresh(creator)
    stripe.update_account(creator.stripe_account_id, charges_enabled=False, details_submitted=True)
    client.get("/studio/payouts/return")
    web.submit(f"{overview}/publish", {}, form_url=overview)
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.DRAFT, "Stripe is still reviewing"

    account = stripe.update_account(creator.stripe_account_id, charges_enabled=True, details_submitted=True)
    deliver(client, stripe, stripe.event("account.updated", account, account=account["id"]))
    html = web.submit(f"{overview}/publish", {}, form_url=overview).get_data(as_text=True)
    assert "Published: your offering is in the catalog." in html
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.PUBLISHED


def test_free_offering_publishes_without_stripe(web, creator, stripe):
    offering = OfferingFactory(creator=creator, status=OfferingStatus.DRAFT, price_cents=0)
    LessonFactory(section=SectionFactory(offering=offering))
    web.submit(f"/studio/courses/{offering.id}/publish", {}, form_url=f"/studio/courses/{offering.id}")
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.PUBLISHED


# ---------------------------------------------------------------------------
# When Stripe fails
# ---------------------------------------------------------------------------


def test_stripe_error_on_connect_is_explained_and_stores_nothing(web, client, creator, stripe):
    stripe.fail_next(1)
    response = connect(web)
    assert response.status_code == 302 and response.headers["Location"] == "/studio/payouts"
    html = page(client)
    assert "Our payment processor had a problem" in html
    db.session.refresh(creator)
    assert creator.stripe_account_id is None
    assert "Not connected" in html and "Connect with Stripe" in html

    # Pressing again works: nothing was left half-way.
    response = connect(web)
    db.session.refresh(creator)
    assert response.status_code == 303 and creator.stripe_account_id in stripe.accounts


def test_stripe_unreachable_on_connect_is_explained(web, client, creator, stripe):
    stripe.go_down()
    try:
        html = connect(web, follow_redirects=True).get_data(as_text=True)
    finally:
        stripe.come_back()
    assert "We couldn&#39;t reach our payment processor" in html
    db.session.refresh(creator)
    assert creator.stripe_account_id is None


class LinkFailsAfterAccount(FakeStripe):
    """Stripe creates the account, then fails the onboarding link that follows."""

    def _create_account(self, params):
        account = super()._create_account(params)
        self.fail_next(1)
        return account


def test_account_created_before_a_failed_link_is_kept_and_reused(app, web, client, creator):
    fake = LinkFailsAfterAccount().start()
    try:
        with stripe_mode(app, fake):
            html = connect(web, follow_redirects=True).get_data(as_text=True)
            assert "Our payment processor had a problem" in html
            db.session.refresh(creator)
            kept = creator.stripe_account_id
            assert kept in fake.accounts and fake.account_links == []
            assert "Onboarding not finished" in html

            response = connect(web)
            db.session.refresh(creator)
            assert creator.stripe_account_id == kept
            assert response.headers["Location"] == f"{fake.url}/onboard/{kept}"
            assert len(fake.find_requests("POST", "/v1/accounts")) == 1
    finally:
        fake.stop()


# ---------------------------------------------------------------------------
# Who may connect
# ---------------------------------------------------------------------------


def test_only_a_creator_can_connect_and_only_their_own_account(web, client, stripe):
    owner = CreatorProfileFactory(user__email="owner@example.org")
    CreatorProfileFactory(user__email="other@example.org")
    UserFactory(email="learner@example.org")

    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/studio/payouts/connect", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get("/studio/payouts").headers["Location"].startswith("/login")

    web.login("learner@example.org", PASSWORD)
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    response = client.post("/studio/payouts/connect", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/become-a-creator"
    web.logout()
    assert stripe.accounts == {}

    web.login("other@example.org", PASSWORD)
    connect(web)
    (account,) = stripe.accounts.values()
    assert account["email"] == "other@example.org"
    db.session.refresh(owner)
    assert owner.stripe_account_id is None


def test_connect_needs_the_form_token(client, creator, stripe):
    assert client.post("/studio/payouts/connect").status_code == 400
    assert stripe.accounts == {}


def test_an_admin_without_a_creator_profile_is_sent_to_become_one(web, client):
    UserFactory(email="admin@example.org", is_admin=True)
    web.login("admin@example.org", PASSWORD)
    response = client.get("/studio/payouts")
    assert response.status_code == 302 and response.headers["Location"] == "/become-a-creator"


# ---------------------------------------------------------------------------
# Earnings
# ---------------------------------------------------------------------------


def paid_order(
    offering, *, amount, processor, platform, days_ago, status=OrderStatus.PAID, estimated=False, refunds=()
):
    """A settled order with its fees, and its refunds as (amount, platform fee given back)."""
    order = OrderFactory(
        offering=offering,
        amount_cents=amount,
        processor_fee_cents=processor,
        processor_fee_estimated=estimated,
        platform_fee_cents=platform,
        net_cents=amount - processor - platform,
        refunded_cents=sum(cents for cents, _ in refunds),
        status=status,
        paid_at=utcnow() - timedelta(days=days_ago),
    )
    for cents, fee_back in refunds:
        db.session.add(Refund(order_id=order.id, amount_cents=cents, platform_fee_refunded_cents=fee_back))
    db.session.flush()
    return order


def hand_made_ledger(creator):
    grief = OfferingFactory(creator=creator, title="Grief Work", price_cents=10000)
    sleep = OfferingFactory(creator=creator, title="Sleep Skills", price_cents=5000)
    paid_order(grief, amount=10000, processor=320, platform=1000, days_ago=1)  # net 86.80
    paid_order(  # net 50 − 20 − 1.75 − (5 − 2) = 25.25
        sleep,
        amount=5000,
        processor=175,
        platform=500,
        days_ago=2,
        status=OrderStatus.PARTIALLY_REFUNDED,
        estimated=True,
        refunds=[(2000, 200)],
    )
    paid_order(  # refunded in two goes; Stripe kept its fee: net −2.62
        grief,
        amount=8000,
        processor=262,
        platform=800,
        days_ago=3,
        status=OrderStatus.REFUNDED,
        refunds=[(3000, 300), (5000, 500)],
    )
    paid_order(sleep, amount=4000, processor=146, platform=400, days_ago=4, status=OrderStatus.DISPUTED)  # 34.54
    # Not money the creator earned: a checkout never paid, a failed one, another creator's sale.
    OrderFactory(offering=grief, amount_cents=9900, platform_fee_cents=990, status=OrderStatus.PENDING, paid_at=None)
    OrderFactory(offering=sleep, amount_cents=5000, status=OrderStatus.FAILED, paid_at=None)
    paid_order(OfferingFactory(), amount=7700, processor=253, platform=770, days_ago=1)


def test_ledger_figures_are_exact(client, creator):
    hand_made_ledger(creator)

    ledger = earnings(creator)
    (totals,) = ledger.totals
    assert totals.currency == "USD" and totals.orders == 4
    assert totals.gross_cents == 27000
    assert totals.refunded_cents == 10000
    assert totals.processor_fee_cents == 903
    assert totals.platform_fee_refunded_cents == 1000
    assert totals.platform_fee_cents == 1700
    assert totals.net_cents == 27000 - 10000 - 903 - (2700 - 1000) == 14397
    assert totals.estimated_fees == 1
    assert [(r.offering_title, r.amount_cents, r.platform_fee_cents, r.net_cents) for r in ledger.rows] == [
        ("Grief Work", 10000, 1000, 8680),
        ("Sleep Skills", 5000, 300, 2525),
        ("Grief Work", 8000, 0, -262),
        ("Sleep Skills", 4000, 400, 3454),
    ]

    html = page(client)
    assert "<dt>Gross sales</dt><dd>$270</dd>" in html
    assert "<dt>Refunds</dt><dd>−$100</dd>" in html
    assert '<dt>Processor fees</dt><dd>−$9.03 <span class="fee-estimated">partly estimated</span></dd>' in html
    assert "<dt>Platform fee</dt><dd>−$17</dd>" in html
    assert '<div class="earnings-total earnings-net"><dt>Net to you</dt><dd>$143.97</dd></div>' in html
    assert "after $10 returned to you with refunds" in html
    assert html.count('<span class="fee-estimated">estimated</span>') == 1
    for label in ("Paid", "Partly refunded", "Refunded", "Disputed"):
        assert f">{label}</span>" in html
    assert "$77" not in html and "$99" not in html, "nobody else's sales, no unpaid checkouts"


def test_ledger_without_sales_shows_zero_and_says_so(client, creator):
    html = page(client)
    assert "No sales yet" in html
    assert '<div class="earnings-total earnings-net"><dt>Net to you</dt><dd>$0</dd></div>' in html


def test_ledger_pages_through_orders_newest_first(client, creator):
    offering = OfferingFactory(creator=creator, title="Boundaries")
    for n in range(30):
        paid_order(offering, amount=1000 + n, processor=59, platform=100, days_ago=n)
    first = earnings(creator, page=1)
    second = earnings(creator, page=2)
    assert first.pages == 2 and first.total_orders == 30
    assert [r.amount_cents for r in first.rows] == [1000 + n for n in range(25)]
    assert [r.amount_cents for r in second.rows] == [1000 + n for n in range(25, 30)]
    assert "Page 2 of 2 · 30 orders" in page(client, "/studio/payouts?page=2")
    assert earnings(creator, page=99).page == 2


def test_payouts_page_runs_the_same_queries_for_few_and_many_orders(web, client, count_queries):
    counts = []
    for size in (3, 40):
        profile = CreatorProfileFactory(user__email=f"creator{size}@example.org")
        offerings = [OfferingFactory(creator=profile) for _ in range(1 + size // 5)]
        for n in range(size):
            refunds = [(100, 10)] if n % 3 == 0 else ()
            paid_order(
                offerings[n % len(offerings)], amount=4900, processor=172, platform=490, days_ago=n, refunds=refunds
            )
        web.login(f"creator{size}@example.org", PASSWORD)
        with count_queries() as counter:
            assert client.get("/studio/payouts").status_code == 200
        counts.append(counter.count)
        web.logout()
    assert counts[0] == counts[1], counts
    assert counts[0] <= 4, counts
