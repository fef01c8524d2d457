"""/t/<creator-slug>: who the therapist is, how many they've taught, and what they offer."""

from __future__ import annotations

import re

from courseplatform.extensions import db
from courseplatform.models import EnrollmentStatus, OfferingStatus

from ..factories import CreatorProfileFactory, EnrollmentFactory, OfferingFactory, UserFactory
from ..factories.media import media_asset


def test_storefront_shows_the_profile_and_only_published_offerings(client):
    maya = CreatorProfileFactory(
        slug="maya", display_name="Dr. Maya Okafor", credentials="LCSW, PhD", bio="I teach *grounding*."
    )
    OfferingFactory(creator=maya, title="Grounding Skills")
    OfferingFactory(creator=maya, title="Grief Workshop")
    OfferingFactory(creator=maya, title="Unfinished draft", status=OfferingStatus.DRAFT, published_at=None)
    OfferingFactory(creator=maya, title="Retired course", status=OfferingStatus.ARCHIVED)
    OfferingFactory(title="Someone else's course")

    response = client.get("/t/maya")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Dr. Maya Okafor" in html and "LCSW, PhD" in html
    assert "I teach <em>grounding</em>." in html
    assert "Grounding Skills" in html and "Grief Workshop" in html
    assert "Unfinished draft" not in html and "Retired course" not in html
    assert "Someone else" not in html
    assert '<span class="avatar' in html and ">M</span>" in html


def test_learners_taught_counts_each_active_learner_once_across_offerings(client):
    maya = CreatorProfileFactory(slug="maya")
    first = OfferingFactory(creator=maya)
    second = OfferingFactory(creator=maya)
    retired = OfferingFactory(creator=maya, status=OfferingStatus.ARCHIVED)
    both = UserFactory()
    EnrollmentFactory(user=both, offering=first)
    EnrollmentFactory(user=both, offering=second)
    EnrollmentFactory(offering=first)
    EnrollmentFactory(offering=retired)
    EnrollmentFactory(offering=second, status=EnrollmentStatus.REVOKED)
    EnrollmentFactory(offering=OfferingFactory())  # another creator's learner

    html = client.get("/t/maya").get_data(as_text=True)
    assert re.search(r"<dt>Learners taught</dt><dd>3</dd>", html)


def test_new_creator_has_no_learner_count_and_an_empty_state(client):
    CreatorProfileFactory(slug="new-one", display_name="Sam Lee")
    html = client.get("/t/new-one").get_data(as_text=True)
    assert "Learners taught" not in html
    assert "Sam Lee hasn't published an offering yet." in html


def test_storefront_shows_the_photo_when_there_is_one(client):
    maya = CreatorProfileFactory(slug="maya")
    maya.photo_asset_id = media_asset(maya.user, "maya.png", "image/png").id
    db.session.flush()
    html = client.get("/t/maya").get_data(as_text=True)
    assert re.search(r'<img class="avatar avatar-photo[^"]*" src="/media/[^"]+"', html)


def test_unknown_storefront_is_404(client):
    assert client.get("/t/nobody").status_code == 404
