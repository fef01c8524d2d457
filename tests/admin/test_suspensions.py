"""Suspending a creator takes their offerings off sale and closes their studio; learners keep learning.
Suspending an account stops it logging in and ends the logins it has. Both need a reason and are audited."""

from __future__ import annotations

import html as markup
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.learning.certificates import issue_certificate
from courseplatform.models import AuditEntry, LoginSession, OfferingKind, Order

from ..factories import PASSWORD, EnrollmentFactory, OfferingFactory, UserFactory
from ..helpers import csrf_token_from


def act(client, url: str, reason: str = "Chargeback pattern under review", form_url: str | None = None):
    page = client.get(form_url or url.rsplit("/", 1)[0]).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_token_from(page), "reason": reason}, follow_redirects=True)


def text(response) -> str:
    """The page as a reader sees its characters (entities decoded)."""
    return markup.unescape(response.get_data(as_text=True))


def suspend_creator(client, profile, reason: str = "Chargeback pattern under review"):
    return act(client, f"/admin/creators/{profile.id}/suspend", reason)


def audit_actions() -> list[tuple[str, str, int, str]]:
    return [
        (e.action, e.target_type, e.target_id, e.reason)
        for e in db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))
    ]


# ---------------------------------------------------------------------------
# A creator


def test_suspending_needs_a_reason_and_is_audited_and_shown(web, client, operator, creator):
    response = suspend_creator(client, creator, reason="  ")
    assert response.status_code == 400 and "Give a reason" in text(response)
    assert creator.suspended_at is None and audit_actions() == []

    html = text(suspend_creator(client, creator))
    assert "Maya Chen is suspended" in html
    assert "Suspended since" in html and "“Chargeback pattern under review”" in html
    assert audit_actions() == [("creator.suspend", "creator_profiles", creator.id, "Chargeback pattern under review")]
    assert "Suspended a creator" in text(client.get("/admin/audit"))

    again = text(suspend_creator(client, creator))
    assert "Maya Chen is already suspended." in again and len(audit_actions()) == 1


def test_a_suspended_creators_offerings_leave_the_catalog_search_storefront_and_home(web, client, operator, offering):
    other = OfferingFactory(title="Grounding for couples", slug="couples")
    before = text(client.get("/courses?q=Grounding"))
    assert "Grounding Skills" in before and "Grounding for couples" in before
    suspend_creator(client, offering.creator)
    web.logout()

    assert "Grounding Skills" not in text(client.get("/courses?q=Grounding"))
    assert "Grounding for couples" in text(client.get("/courses?q=Grounding"))
    assert "Grounding Skills" not in text(client.get("/"))
    storefront = client.get("/t/maya-chen")
    assert storefront.status_code == 404
    assert "This therapist's page isn't available right now" in text(storefront)
    page = text(client.get("/courses/grounding"))
    assert "This offering isn't available right now, so it can't be bought." in page
    assert "Buy now" not in page
    assert other.slug == "couples"


def test_checkout_and_the_waitlist_refuse_a_suspended_creators_offering(web, client, operator, offering):
    suspend_creator(client, offering.creator)
    web.logout()
    buyer = UserFactory(email="new@example.org")
    web.login(buyer.email, PASSWORD)
    token = csrf_token_from(text(client.get("/account")))
    html = text(client.post("/courses/grounding/checkout", data={"csrf_token": token}, follow_redirects=True))
    assert "This offering isn't open for sign-ups right now." in html
    assert db.session.scalar(sa.select(sa.func.count(Order.id)).where(Order.learner_id == buyer.id)) == 0
    waitlist = client.post("/courses/grounding/waitlist", data={"csrf_token": token, "email": buyer.email})
    assert waitlist.status_code == 404


def test_a_free_offering_of_a_suspended_creator_enrols_nobody_new(web, client, operator, creator):
    OfferingFactory(creator=creator, slug="free-one", price_cents=0, kind=OfferingKind.COURSE)
    suspend_creator(client, creator)
    web.logout()
    web.login(UserFactory(email="new@example.org").email, PASSWORD)
    token = csrf_token_from(text(client.get("/account")))
    client.post("/courses/free-one/checkout", data={"csrf_token": token})
    assert "You're enrolled" not in text(client.get("/learn"))


def test_learners_keep_learning_and_certificates_keep_verifying(web, client, operator, sale):
    offering = sale.offering
    offering.ce_minutes = 60
    sale.completed_at = datetime(2026, 11, 1, tzinfo=UTC)
    certificate = issue_certificate(sale, now=datetime(2026, 11, 2, tzinfo=UTC))
    db.session.flush()
    suspend_creator(client, offering.creator)
    web.logout()

    web.login("pat@example.org", PASSWORD)
    lesson = offering.sections[0].lessons[0]
    assert client.get(f"/learn/{offering.slug}/lessons/{lesson.id}").status_code == 200
    assert "Grounding Skills" in text(client.get("/learn"))
    assert "You're enrolled" in text(client.get("/courses/grounding"))
    verify = client.get(f"/certificates/{certificate.number}")
    assert verify.status_code == 200 and "Grounding Skills" in text(verify)


def test_a_suspended_creators_studio_is_closed_and_opens_again_when_unsuspended(web, client, operator, offering):
    suspend_creator(client, offering.creator)
    web.logout()
    web.login("maya@example.org", PASSWORD)
    for url in ("/studio", f"/studio/courses/{offering.id}", "/studio/revenue", "/studio/payouts", "/studio/sessions"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Your studio is closed because an operator suspended your creator account." in response.get_data(
            as_text=True
        )
    web.logout()

    web.login("ops@example.org", PASSWORD)
    html = text(act(client, f"/admin/creators/{offering.creator.id}/unsuspend", "Cleared after review"))
    assert "Maya Chen is no longer suspended." in html
    assert [a[0] for a in audit_actions()] == ["creator.suspend", "creator.unsuspend"]
    web.logout()
    assert "Grounding Skills" in text(client.get("/courses"))
    web.login("maya@example.org", PASSWORD)
    assert client.get("/studio").status_code == 200


# ---------------------------------------------------------------------------
# An account


def test_a_suspended_account_is_logged_out_everywhere_and_cannot_log_in(app, web, client, operator, sale):
    pat = app.test_client()
    page = text(pat.get("/login"))
    pat.post("/login", data={"csrf_token": csrf_token_from(page), "email": "pat@example.org", "password": PASSWORD})
    assert pat.get("/learn").status_code == 200

    html = text(act(client, f"/admin/accounts/{sale.user_id}/suspend", "Shared their login publicly"))
    assert "pat@example.org is suspended and was logged out of 1 device." in html
    assert db.session.scalar(sa.select(sa.func.count(LoginSession.id)).where(LoginSession.user_id == sale.user_id)) == 0
    assert pat.get("/learn").status_code == 302, "the session that was open has ended"

    page = text(pat.get("/login"))
    answer = pat.post(
        "/login", data={"csrf_token": csrf_token_from(page), "email": "pat@example.org", "password": PASSWORD}
    )
    assert answer.status_code == 200
    assert "This account has been suspended" in text(answer)
    wrong = pat.post(
        "/login", data={"csrf_token": csrf_token_from(page), "email": "pat@example.org", "password": "wrong one"}
    )
    assert "suspended" not in text(wrong), "only the right password learns it is suspended"
    assert audit_actions() == [("account.suspend", "users", sale.user_id, "Shared their login publicly")]

    act(client, f"/admin/accounts/{sale.user_id}/unsuspend", "Talked it through")
    ok = pat.post(
        "/login", data={"csrf_token": csrf_token_from(page), "email": "pat@example.org", "password": PASSWORD}
    )
    assert ok.status_code == 302
    assert pat.get("/learn").status_code == 200


def test_a_suspended_accounts_reset_link_does_not_log_it_in(web, client, operator, sale):
    from courseplatform.accounts.services import make_reset_token

    token = make_reset_token(sale.user)
    act(client, f"/admin/accounts/{sale.user_id}/suspend")
    web.logout()
    html = text(client.get(f"/password/reset/{token}", follow_redirects=True))
    assert "This account has been suspended" in html


def test_an_operator_cannot_suspend_their_own_account(web, client, operator):
    page = text(client.get(f"/admin/accounts/{operator.id}"))
    assert "You can't suspend the account you are logged in with." in page
    html = text(act(client, f"/admin/accounts/{operator.id}/suspend"))
    assert "You can't suspend your own account." in html
    assert operator.suspended_at is None and audit_actions() == []


@pytest.mark.parametrize("reason", ["\x00", "x" * 501, " \t "])
def test_a_hostile_reason_is_refused_and_changes_nothing(web, client, operator, creator, reason):
    response = suspend_creator(client, creator, reason=reason)
    assert response.status_code == 400
    assert creator.suspended_at is None and audit_actions() == []


def test_a_suspended_creator_shows_in_the_console(web, client, operator, offering):
    EnrollmentFactory(offering=offering)
    suspend_creator(client, offering.creator)
    assert "Suspended" in text(client.get("/admin/creators"))
    assert "1 creator" in text(client.get("/admin"))


def accounts_on_the_overview(client) -> tuple[str, str]:
    page = text(client.get("/admin"))
    found = re.search(r"<dt>Accounts</dt><dd>(\d+)</dd>", page)
    suspended = re.search(r"Suspended: .*?(\d+) accounts?\.", page, re.S)
    return found.group(1), suspended.group(1) if suspended else "0"


def test_the_overview_counts_accounts_as_they_are_made_suspended_and_let_back(web, client, operator):
    made, _ = accounts_on_the_overview(client)
    learner = UserFactory(email="sam@example.org")
    assert accounts_on_the_overview(client) == (str(int(made) + 1), "0")

    act(client, f"/admin/accounts/{learner.id}/suspend", "Shared their login publicly")
    assert accounts_on_the_overview(client) == (str(int(made) + 1), "1")

    act(client, f"/admin/accounts/{learner.id}/unsuspend", "Explained and changed their password")
    assert accounts_on_the_overview(client) == (str(int(made) + 1), "0")
