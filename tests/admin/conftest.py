"""An operator logged in, and a creator with a sold offering to act on."""

from __future__ import annotations

import pytest

from courseplatform.models import EnrollmentSource, OrderStatus

from ..factories import (
    PASSWORD,
    CreatorProfileFactory,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    OrderFactory,
    SectionFactory,
    UserFactory,
)


@pytest.fixture
def operator(web):
    """An admin, logged in."""
    user = UserFactory(email="ops@example.org", name="Olive Operator", is_admin=True)
    web.login(user.email, PASSWORD)
    return user


@pytest.fixture
def creator():
    return CreatorProfileFactory(
        user__email="maya@example.org", user__name="Maya Chen", display_name="Maya Chen", slug="maya-chen"
    )


@pytest.fixture
def offering(creator):
    offering = OfferingFactory(creator=creator, slug="grounding", title="Grounding Skills", price_cents=4900)
    LessonFactory(section=SectionFactory(offering=offering), title="Breathing")
    return offering


@pytest.fixture
def sale(offering):
    """Pat bought Grounding Skills for $49 (the platform kept $4.90); Pat is enrolled."""
    learner = UserFactory(email="pat@example.org", name="Pat Buyer")
    order = OrderFactory(
        learner=learner,
        offering=offering,
        amount_cents=4900,
        status=OrderStatus.PAID,
        checkout_id="cs_test_pat",
        payment_intent_id="pi_test_pat",
        charge_id="ch_test_pat",
        processor_fee_cents=172,
        platform_fee_cents=490,
        net_cents=4238,
    )
    return EnrollmentFactory(user=learner, offering=offering, source=EnrollmentSource.PURCHASE, order=order)
