from __future__ import annotations

import pytest

from courseplatform.extensions import db
from courseplatform.models import Audience, OfferingStatus, ReferralPartner

from ..factories import PASSWORD, CreatorProfileFactory, OfferingFactory


@pytest.fixture
def therapist(app):
    """A therapist whose practice is full: the waitlist page open, a free course for the public, one for
    clinicians, and a colleague taking clients."""
    profile = CreatorProfileFactory(
        user__email="maya@example.org",
        slug="maya",
        display_name="Dr. Maya Okafor",
        credentials="LCSW",
        licence="Licensed Clinical Social Worker, New York #012345",
        country="US",
        practice_waitlist_open=True,
        practice_waitlist_message="My practice is full until spring.",
    )
    OfferingFactory(
        creator=profile, slug="while-you-wait", title="While You Wait", audience=Audience.PUBLIC, price_cents=0
    )
    OfferingFactory(creator=profile, slug="grounding", title="Grounding for Clinicians", price_cents=12900)
    OfferingFactory(
        creator=profile, slug="draft", title="Unfinished Draft", audience=Audience.PUBLIC, status=OfferingStatus.DRAFT
    )
    db.session.add(
        ReferralPartner(
            creator_id=profile.id,
            name="Dr. Sam Lee",
            credentials="PsyD",
            specialties="Anxiety and OCD",
            url="https://example.com/sam",
            position=1,
        )
    )
    db.session.flush()
    return profile


@pytest.fixture
def signed_in(web, therapist):
    """The therapist, logged in to their studio."""
    web.login("maya@example.org", PASSWORD)
    return therapist
