"""Waitlists: joining once, being told once, and the creator's list and CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from courseplatform.downloads import spreadsheet_safe
from courseplatform.enrollments.waitlist import notify_waitlist
from courseplatform.extensions import db
from courseplatform.jobs import dispatch_committed
from courseplatform.models import OfferingKind, OfferingStatus, WaitlistEntry, utcnow

from ..factories import PASSWORD, CreatorProfileFactory, EnrollmentFactory, OfferingFactory, UserFactory
from ..factories.catalog import waitlist_entry
from ..factories.live import live_session
from ..helpers import csrf_token_from


def entries(offering) -> list[WaitlistEntry]:
    return list(db.session.scalars(sa.select(WaitlistEntry).where(WaitlistEntry.offering_id == offering.id)))


@pytest.fixture
def soon():
    return OfferingFactory(slug="soon", title="Grounding Skills", waitlist_only=True)


def join(web, email: str, slug: str = "soon"):
    return web.submit(f"/courses/{slug}/waitlist", {"email": email}, form_url=f"/courses/{slug}")


# ---------------------------------------------------------------------------
# Joining
# ---------------------------------------------------------------------------


def test_visitor_joins_the_waitlist_once_whatever_the_case(web, soon):
    response = join(web, "  Jo.Smith@Example.ORG ")
    html = response.get_data(as_text=True)
    assert response.request.path == "/courses/soon"
    assert "You&#39;re on the waitlist. We&#39;ll e-mail jo.smith@example.org once" in html
    assert [e.email for e in entries(soon)] == ["jo.smith@example.org"]

    assert "You're on the waitlist. We'll e-mail you once" in html, "the buy box says so too"
    assert 'action="/courses/soon/waitlist"' not in html

    web.client.delete_cookie("session")  # the same person, from another browser
    html = join(web, "JO.SMITH@example.org").get_data(as_text=True)
    assert "You&#39;re already on the list" in html
    assert len(entries(soon)) == 1


def test_bad_email_gets_a_clear_message_and_changes_nothing(web, soon):
    response = join(web, "not-an-address")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Enter an e-mail address such as name@example.com." in html
    assert 'value="not-an-address"' in html, "what was typed is kept"
    assert entries(soon) == []

    html = join(web, "").get_data(as_text=True)
    assert "Enter your e-mail address." in html
    assert entries(soon) == []


def test_full_live_workshop_waitlist(web):
    offering = OfferingFactory(slug="live", kind=OfferingKind.LIVE_WORKSHOP)
    live_session(offering, capacity=1)
    EnrollmentFactory(offering=offering)
    join(web, "kim@example.org", slug="live")
    assert [e.email for e in entries(offering)] == ["kim@example.org"]


def test_logged_in_learner_joins_with_their_address_and_sees_they_are_on_the_list(web, client, soon):
    UserFactory(email="jo@example.org")
    web.login("jo@example.org", PASSWORD)
    html = join(web, "jo@example.org").get_data(as_text=True)
    assert "You're on the waitlist with jo@example.org." in html
    assert 'action="/courses/soon/waitlist"' not in html
    web.logout()
    UserFactory(email="kim@example.org")
    web.login("kim@example.org", PASSWORD)
    html = client.get("/courses/soon").get_data(as_text=True)
    assert 'action="/courses/soon/waitlist"' in html, "another account on this browser is not on the list"


def test_drafts_and_unknown_offerings_have_no_waitlist(web, client, soon):
    OfferingFactory(slug="draft", status=OfferingStatus.DRAFT, published_at=None)
    token = csrf_token_from(client.get("/courses/soon").get_data(as_text=True))
    assert client.post("/courses/draft/waitlist", data={"csrf_token": token, "email": "a@b.org"}).status_code == 404
    assert client.post("/courses/nothing/waitlist", data={"csrf_token": token, "email": "a@b.org"}).status_code == 404


def test_joining_without_a_csrf_token_is_refused(client, soon):
    response = client.post("/courses/soon/waitlist", data={"email": "jo@example.org"})
    assert response.status_code == 400
    assert entries(soon) == []


def test_joining_is_rate_limited(client, soon):
    token = csrf_token_from(client.get("/courses/soon").get_data(as_text=True))
    for n in range(10):
        response = client.post("/courses/soon/waitlist", data={"csrf_token": token, "email": f"p{n}@example.org"})
        assert response.status_code == 302
    response = client.post("/courses/soon/waitlist", data={"csrf_token": token, "email": "more@example.org"})
    assert response.status_code == 429
    assert len(entries(soon)) == 10


# ---------------------------------------------------------------------------
# Telling the list
# ---------------------------------------------------------------------------


def test_notify_mails_each_waiting_person_once(app, mailbox, soon):
    waitlist_entry(soon, "first@example.org")
    waitlist_entry(soon, "second@example.org")
    waitlist_entry(soon, "told@example.org", notified_at=utcnow() - timedelta(days=1))
    other = OfferingFactory()
    waitlist_entry(other, "other@example.org")
    soon.waitlist_only = False  # the creator opens it: the moment the waitlist is told

    assert notify_waitlist(soon, "open") == 2
    assert mailbox.messages == [], "written by a job, sent once the change commits"
    db.session.commit()
    dispatch_committed()
    messages = mailbox.messages
    assert sorted(m["To"] for m in messages) == ["first@example.org", "second@example.org"]
    assert {m["Subject"] for m in messages} == {"Grounding Skills is open"}
    body = mailbox.last_body()
    assert "http://aqueduct.test/courses/soon" in body
    assert all(e.notified_at is not None for e in entries(soon))
    assert entries(other)[0].notified_at is None

    mailbox.clear()
    assert notify_waitlist(soon, "open") == 0
    db.session.commit()
    dispatch_committed()
    assert mailbox.messages == []


def test_a_freed_seat_has_its_own_subject(app, mailbox):
    offering = OfferingFactory(slug="live", title="Couples in Crisis", kind=OfferingKind.LIVE_WORKSHOP)
    live_session(offering, capacity=10)  # the seat that opened
    waitlist_entry(offering, "kim@example.org")
    assert notify_waitlist(offering, "seat") == 1
    db.session.commit()
    dispatch_committed()
    assert mailbox.messages[0]["Subject"] == "A seat opened in Couples in Crisis"


def test_notify_refuses_an_unknown_reason(app, soon):
    with pytest.raises(ValueError, match="unknown waitlist reason"):
        notify_waitlist(soon, "because")


# ---------------------------------------------------------------------------
# The creator's list and CSV
# ---------------------------------------------------------------------------


def test_owner_sees_the_waitlist_with_joined_and_notified(web, client, soon):
    waitlist_entry(soon, "first@example.org")
    waitlist_entry(soon, "told@example.org", notified_at=utcnow())
    web.login(soon.creator.user.email, PASSWORD)
    response = client.get(f"/studio/courses/{soon.id}/waitlist")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "first@example.org" in html and "told@example.org" in html
    assert "2 people on the list · 1 still waiting to hear." in html
    assert "Waiting" in html
    assert f'href="/studio/courses/{soon.id}/waitlist.csv"' in html
    assert "Grounding Skills" in html, "the offering's header is shown"


def test_empty_waitlist_says_how_people_join(web, client, soon):
    web.login(soon.creator.user.email, PASSWORD)
    html = client.get(f"/studio/courses/{soon.id}/waitlist").get_data(as_text=True)
    assert "No one on the waitlist yet" in html
    assert "Download CSV" not in html


def test_csv_export_has_a_header_and_one_row_per_person(web, client, soon):
    waitlist_entry(soon, "first@example.org")
    waitlist_entry(soon, "told@example.org", notified_at=utcnow())
    web.login(soon.creator.user.email, PASSWORD)
    response = client.get(f"/studio/courses/{soon.id}/waitlist.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="soon-waitlist.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["email", "joined_at", "notified_at"]
    assert [r[0] for r in rows[1:]] == ["first@example.org", "told@example.org"]
    assert rows[1][2] == "" and rows[2][2].endswith("+00:00")


def test_csv_export_neutralises_spreadsheet_formulas(web, client, soon):
    # "-2+3@…" is a valid address; a spreadsheet would still run it as a formula.
    join(web, "-2+3@example.org")
    waitlist_entry(soon, "=hyperlink(evil)@example.org")
    waitlist_entry(soon, "+1@example.org")
    waitlist_entry(soon, "@sum(1)@example.org")
    web.login(soon.creator.user.email, PASSWORD)
    rows = list(csv.reader(io.StringIO(client.get(f"/studio/courses/{soon.id}/waitlist.csv").get_data(as_text=True))))
    emails = [r[0] for r in rows[1:]]
    assert emails == ["'-2+3@example.org", "'=hyperlink(evil)@example.org", "'+1@example.org", "'@sum(1)@example.org"]


def test_spreadsheet_safe_leaves_ordinary_text_alone():
    assert spreadsheet_safe("jo@example.org") == "jo@example.org"
    assert spreadsheet_safe("2026-01-01T00:00:00+00:00") == "2026-01-01T00:00:00+00:00"
    assert spreadsheet_safe("=1+1") == "'=1+1"


@pytest.mark.parametrize("suffix", ["", ".csv"])
def test_studio_waitlist_is_only_for_the_owner_and_admins(web, client, soon, suffix):
    waitlist_entry(soon, "private@example.org")
    url = f"/studio/courses/{soon.id}/waitlist{suffix}"

    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")

    UserFactory(email="learner@example.org")
    web.login("learner@example.org", PASSWORD)
    learner = client.get(url)
    assert learner.status_code == 302 and "private@example.org" not in learner.get_data(as_text=True)
    web.logout()

    other = CreatorProfileFactory()
    web.login(other.user.email, PASSWORD)
    assert client.get(url).status_code == 404
    assert client.get(f"/studio/courses/999999/waitlist{suffix}").status_code == 404
    web.logout()

    UserFactory(email="admin@example.org", is_admin=True)
    web.login("admin@example.org", PASSWORD)
    admin = client.get(url)
    assert admin.status_code == 200 and "private@example.org" in admin.get_data(as_text=True)
