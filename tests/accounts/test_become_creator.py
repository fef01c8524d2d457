"""A learner adds a creator profile and gets the studio."""

from __future__ import annotations

from courseplatform.extensions import db
from courseplatform.models import CreatorProfile

from ..factories import PASSWORD, CreatorProfileFactory, UserFactory

PROFILE = {
    "display_name": "Dr. Ana Ruiz",
    "credentials": "LCSW, PhD",
    "bio": "I teach grounding skills.",
    "slug": "ana-ruiz",
    "currency": "CAD",
    "time_zone": "America/Toronto",
    "default_session_fee_cents": "1,400.50",
    "default_session_minutes": "55",
}


def profiles() -> int:
    return db.session.scalar(db.select(db.func.count(CreatorProfile.id)))


def test_learner_becomes_a_creator_and_opens_the_studio(web, client):
    user = UserFactory(email="ana@example.org", name="Ana Ruiz")
    web.login("ana@example.org", PASSWORD)
    assert client.get("/studio").headers["Location"] == "/become-a-creator"

    form = client.get("/become-a-creator").get_data(as_text=True)
    assert 'value="ana-ruiz"' in form, "the storefront address is suggested from the name"

    response = web.submit("/become-a-creator", PROFILE)
    html = response.get_data(as_text=True)
    assert response.request.path == "/studio"
    assert "Your studio is ready" in html
    profile = db.session.scalar(db.select(CreatorProfile).filter_by(user_id=user.id))
    assert profile.display_name == "Dr. Ana Ruiz"
    assert profile.credentials == "LCSW, PhD"
    assert profile.currency == "CAD"
    assert profile.default_session_fee_cents == 140050
    assert profile.default_session_minutes == 55
    db.session.refresh(user)
    assert user.time_zone == "America/Toronto"

    storefront = client.get("/t/ana-ruiz").get_data(as_text=True)
    assert "Dr. Ana Ruiz" in storefront and "LCSW, PhD" in storefront


def test_creator_profile_rules_have_clear_messages(web):
    CreatorProfileFactory(slug="taken-slug")
    UserFactory(email="ana@example.org")
    web.login("ana@example.org", PASSWORD)
    before = profiles()
    cases = [
        ({"slug": "taken-slug"}, "That address is taken; try another."),
        ({"slug": "Not A Slug!"}, "Use lowercase letters, numbers and single hyphens"),
        ({"default_session_fee_cents": "lots"}, "Enter an amount such as 150 or 150.00."),
        ({"default_session_fee_cents": "-20"}, "The amount can&#39;t be negative."),
        ({"default_session_fee_cents": "150.555"}, "Use at most two decimal places."),
        ({"default_session_minutes": "5"}, "Between 10 and 240 minutes."),
        ({"time_zone": "Mars/Olympus"}, "Not a valid choice"),
        ({"display_name": ""}, "This field is required."),
    ]
    for change, message in cases:
        html = web.submit("/become-a-creator", {**PROFILE, **change}).get_data(as_text=True)
        assert message in html, change
    assert profiles() == before


def test_creator_edits_the_profile_later(web, client):
    profile = CreatorProfileFactory(user__email="ana@example.org", slug="ana")
    web.login("ana@example.org", PASSWORD)
    page = client.get("/become-a-creator").get_data(as_text=True)
    assert "Your creator profile" in page
    response = web.submit("/become-a-creator", {**PROFILE, "slug": "ana", "credentials": "LMFT"})
    assert "Your profile has been saved." in response.get_data(as_text=True)
    db.session.refresh(profile)
    assert profile.credentials == "LMFT"
    assert profiles() == 1


def test_only_admins_open_the_admin_page(web, client):
    UserFactory(email="learner@example.org")
    UserFactory(email="operator@example.org", is_admin=True)
    web.login("learner@example.org", PASSWORD)
    assert client.get("/admin").status_code == 403
    web.logout()
    web.login("operator@example.org", PASSWORD)
    response = client.get("/admin")
    assert response.status_code == 200
    assert "Platform at a glance" in response.get_data(as_text=True)
