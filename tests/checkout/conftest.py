"""Stripe mode for checkout tests: the real stripe library against the fake Stripe API on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db

from ..factories import CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory
from ..fakes.stripe_api import FakeStripe
from ..helpers import WEBHOOK_SECRET

STRIPE_SETTINGS = ("STRIPE_SECRET_KEY", "STRIPE_API_BASE", "STRIPE_MAX_RETRIES", "STRIPE_WEBHOOK_SECRET")


@pytest.fixture(scope="session")
def fake_stripe_server() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def stripe_api(app, fake_stripe_server) -> Iterator[FakeStripe]:
    """The app in Stripe mode, talking to a fresh fake Stripe; test mode again afterwards."""
    saved = {key: app.config.get(key) for key in STRIPE_SETTINGS}
    fake_stripe_server.reset()
    app.config.update(
        STRIPE_SECRET_KEY="sk_test_aqueduct",
        STRIPE_API_BASE=fake_stripe_server.url,
        STRIPE_MAX_RETRIES=0,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    try:
        yield fake_stripe_server
    finally:
        app.config.update(saved)
        assert fake_stripe_server.errors == [], "the fake Stripe raised while answering"


def opened_before_coupons(fake: FakeStripe, order) -> None:
    """An order's session as the release before coupons opened every one: with Stripe's promotion codes allowed."""
    fake.sessions[order.checkout_id]["allow_promotion_codes"] = True


class Webhooks:
    """Posts events to the app as Stripe does: raw JSON, signed with the endpoint's secret."""

    def __init__(self, client, fake: FakeStripe) -> None:
        self.client = client
        self.fake = fake

    def deliver(self, event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
        body, headers = self.fake.signed(event, secret, timestamp)
        return self.client.post("/webhooks/stripe", data=body, headers=headers)

    def send(self, type_: str, obj: dict, **kwargs):
        """Build an event around `obj`, deliver it, and return (event, response)."""
        event = self.fake.event(type_, obj, **kwargs)
        return event, self.deliver(event)


@pytest.fixture
def tax_on(app, stripe_api):
    """The operator turned Stripe Tax on, with VAT ids at checkout."""
    saved = {key: app.config[key] for key in ("STRIPE_TAX", "STRIPE_TAX_ID_COLLECTION")}
    app.config.update(STRIPE_TAX=True, STRIPE_TAX_ID_COLLECTION=True)
    yield stripe_api
    app.config.update(saved)


@pytest.fixture
def webhooks(client, stripe_api) -> Webhooks:
    return Webhooks(client, stripe_api)


@pytest.fixture
def connected_offering(stripe_api):
    """A published paid course whose creator's Stripe account can take charges, with one lesson."""
    account = stripe_api.add_account(charges_enabled=True, details_submitted=True, payouts_enabled=True)
    creator = CreatorProfileFactory(
        stripe_account_id=account["id"], stripe_charges_enabled=True, stripe_details_submitted=True
    )
    offering = OfferingFactory(creator=creator, price_cents=4900, title="Grounding skills")
    LessonFactory(section=SectionFactory(offering=offering), title="Welcome")
    db.session.flush()
    return offering


@pytest.fixture
def plan_offering(connected_offering):
    """The connected course at $129, or 3 monthly payments of $45."""
    connected_offering.price_cents = 12900
    connected_offering.plan_instalments = 3
    connected_offering.plan_instalment_cents = 4500
    db.session.flush()
    return connected_offering


@pytest.fixture
def creator():
    """A creator without Stripe (test mode), for memberships and bundles."""
    return CreatorProfileFactory(display_name="Dr. Maya Okafor")


@pytest.fixture
def circle(creator):
    """A $49-a-month membership giving a consultation group (3 meetings, 8 seats) and a recorded library."""
    from .test_memberships import group, holding
    from .test_test_mode_checkout import offering_with_lesson

    library, _ = offering_with_lesson(creator=creator, title="Recorded case library", price_cents=7900)
    return holding(creator, group(creator), library)


@pytest.fixture
def stripe_circle(connected_offering):
    """A $49-a-month membership giving the connected course."""
    from courseplatform.models import BillingInterval, OfferingKind, bundle_items

    membership = OfferingFactory(
        creator=connected_offering.creator,
        kind=OfferingKind.MEMBERSHIP,
        price_cents=4900,
        billing_interval=BillingInterval.MONTH,
        title="The Consultation Circle",
    )
    LessonFactory(section=SectionFactory(offering=membership))
    db.session.execute(sa.insert(bundle_items), [{"bundle_id": membership.id, "item_id": connected_offering.id}])
    db.session.flush()
    return membership
