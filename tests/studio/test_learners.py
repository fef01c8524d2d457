"""The studio's learner list: who is in, their progress and orders; giving access, enrolling a list,
revoking, exporting; and nobody but the owner (or an admin) sees or changes any of it."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from courseplatform.accounts.services import user_for_reset_token
from courseplatform.extensions import db
from courseplatform.models import (
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    LessonProgress,
    MailStatus,
    OfferingKind,
    OrderStatus,
    OutgoingMail,
    User,
    utcnow,
)
from courseplatform.studio.learners.services import INVITED_MARKER, MAX_IMPORT_ROWS

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
from ..factories.live import live_session
from ..helpers import csrf_token_from

LINK_RE = re.compile(r"http://aqueduct\.test(/\S+)")
NEW_PASSWORD = "quiet harbour lights"


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org", user__time_zone="America/New_York")
    web.login("maya@example.org", PASSWORD)
    return profile


@pytest.fixture
def offering(creator):
    offering = OfferingFactory(creator=creator, slug="grounding", title="Grounding Skills", price_cents=4900)
    section = SectionFactory(offering=offering)
    for n in range(4):
        LessonFactory(section=section, position=n, title=f"Lesson {n + 1}")
    return offering


def lessons_of(offering):
    return [lesson for section in offering.sections for lesson in section.lessons]


def enrol(offering, email, name="Sam Learner", *, done=0, **kw) -> Enrollment:
    user = db.session.scalar(sa.select(User).filter_by(email=email)) or UserFactory(email=email, name=name)
    enrollment = EnrollmentFactory(user=user, offering=offering, **kw)
    db.session.flush()
    for lesson in lessons_of(offering)[:done]:
        db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=lesson.id, completed_at=utcnow()))
    db.session.flush()
    return enrollment


def paid(offering, email, name="Pat Buyer", amount=4900, **kw) -> Enrollment:
    learner = UserFactory(email=email, name=name)
    order = OrderFactory(
        learner=learner,
        offering=offering,
        amount_cents=amount,
        status=OrderStatus.PAID,
        payment_intent_id=f"pi_{learner.id}",
        platform_fee_cents=amount // 10,
        net_cents=amount - amount // 10,
    )
    return enrol(offering, email, source=EnrollmentSource.PURCHASE, order=order, **kw)


def enrollment_of(offering, email) -> Enrollment | None:
    return db.session.scalar(
        sa.select(Enrollment)
        .join(User, User.id == Enrollment.user_id)
        .where(Enrollment.offering_id == offering.id, User.email == email)
    )


def enrollments_count(offering) -> int:
    return db.session.scalar(sa.select(sa.func.count(Enrollment.id)).where(Enrollment.offering_id == offering.id))


def page(client, offering, query: str = "") -> str:
    response = client.get(f"/studio/courses/{offering.id}/learners{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def grant(web, offering, email, name=""):
    return web.submit(
        f"/studio/courses/{offering.id}/learners/grant",
        {"email": email, "name": name},
        form_url=f"/studio/courses/{offering.id}/learners",
    )


def upload(web, offering, content: bytes, filename="learners.csv", notify=True):
    """Post the upload form, encoded in memory (the test client spools big bodies to a file it never closes)."""
    roster = f"/studio/courses/{offering.id}/learners"
    fields = {"csrf_token": csrf_token_from(web.client.get(roster).get_data(as_text=True))}
    if notify:
        fields["notify"] = "y"
    fields["file"] = FileStorage(io.BytesIO(content), filename=filename, content_type="text/csv")
    boundary, body = encode_multipart(fields)
    return web.client.post(
        f"{roster}/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        follow_redirects=True,
    )


def as_learner(web, email, password=PASSWORD):
    web.logout()
    return web.login(email, password)


# ---------------------------------------------------------------------------
# The roster
# ---------------------------------------------------------------------------


def test_roster_shows_learners_with_progress_and_order_status(web, client, offering):
    paid(offering, "pat@example.org", name="Pat Buyer", done=3)
    enrol(offering, "kim@example.org", name="Kim Guest", source=EnrollmentSource.COMP, done=1)
    revoked = enrol(offering, "lee@example.org", name="Lee Gone", source=EnrollmentSource.IMPORT)
    revoked.status = EnrollmentStatus.REVOKED
    db.session.flush()

    html = page(client, offering)
    assert "Pat Buyer" in html and "pat@example.org" in html
    assert "3 of 4 lessons · 75%" in html
    assert "1 of 4 lessons · 25%" in html
    assert "$49 · Paid" in html
    assert "Purchase" in html and "Complimentary" in html and "Imported" in html
    assert "2 with access · 1 revoked." in html
    assert html.count(">Revoke…<") == 2, "active learners can be revoked"
    assert html.count("Restore access<") == 1, "the revoked one can be restored"
    assert html.count(">Refund<") == 1, "only the paid order can be refunded"
    assert f'href="/studio/courses/{offering.id}/learners.csv"' in html


def test_enrolled_date_is_in_the_creators_time_zone(web, client, offering):
    enrollment = enrol(offering, "late@example.org")
    enrollment.enrolled_at = utcnow().replace(year=2026, month=3, day=2, hour=3, minute=0)  # 10 pm on Mar 1 in New York
    db.session.flush()
    assert "Mar 1, 2026" in page(client, offering)


def test_refunded_order_shows_the_amount_given_back(web, client, offering):
    enrollment = paid(offering, "part@example.org")
    enrollment.order.status = OrderStatus.PARTIALLY_REFUNDED
    enrollment.order.refunded_cents = 1500
    db.session.flush()
    html = page(client, offering)
    assert "$49 · Partly refunded" in html
    assert "$15 refunded" in html


def test_search_finds_by_name_or_email_and_percent_is_literal(web, client, offering):
    enrol(offering, "ana@example.org", name="Ana Ruiz")
    enrol(offering, "bo@clinic.test", name="Bo 100% Calm")
    enrol(offering, "cy@example.org", name="Cy Other")

    html = page(client, offering, "?q=RUIZ")
    assert "ana@example.org" in html and "bo@clinic.test" not in html and "cy@example.org" not in html

    html = page(client, offering, "?q=clinic.TEST")
    assert "bo@clinic.test" in html and "ana@example.org" not in html

    html = page(client, offering, "?q=%25")
    assert "bo@clinic.test" in html, "a literal % matches the name holding one"
    assert "ana@example.org" not in html and "cy@example.org" not in html

    html = page(client, offering, "?q=nobody")
    assert "No learners match “nobody”" in html


def test_status_filter_and_counts(web, client, offering):
    enrol(offering, "on@example.org")
    gone = enrol(offering, "off@example.org")
    gone.status = EnrollmentStatus.REVOKED
    db.session.flush()
    html = page(client, offering, "?status=revoked")
    assert "off@example.org" in html and "on@example.org" not in html
    html = page(client, offering, "?status=bogus")
    assert "off@example.org" in html and "on@example.org" in html, "an unknown filter shows everyone"


def test_roster_pages_by_fifty(web, client, offering):
    for n in range(51):
        enrol(offering, f"p{n:02d}@example.org")
    first = page(client, offering)
    assert "Page 1 of 2 · 51 learners" in first
    assert first.count('<th scope="row">') == 50
    second = page(client, offering, "?page=2")
    assert second.count('<th scope="row">') == 1
    assert page(client, offering, "?page=999").count('<th scope="row">') == 1, "past the end shows the last page"


def test_empty_roster_explains_how_learners_arrive_and_offers_the_forms(web, client, offering):
    html = page(client, offering)
    assert "No learners yet" in html
    assert "People appear here when they buy Grounding Skills" in html
    assert 'id="add-learners" open' in html
    assert f'action="/studio/courses/{offering.id}/learners/grant"' in html
    assert f'action="/studio/courses/{offering.id}/learners/import"' in html


def test_learners_tab_is_in_the_course_header(web, client, offering):
    html = client.get(f"/studio/courses/{offering.id}").get_data(as_text=True)
    assert f'href="/studio/courses/{offering.id}/learners"' in html


def test_admin_may_open_any_roster(web, client, offering):
    enrol(offering, "seen@example.org")
    UserFactory(email="admin@example.org", is_admin=True)
    as_learner(web, "admin@example.org")
    assert "seen@example.org" in page(client, offering)


def test_another_creator_gets_404_on_every_learner_route(web, client, offering):
    enrollment = paid(offering, "pat@example.org")
    CreatorProfileFactory(user__email="other@example.org")
    as_learner(web, "other@example.org")
    base = f"/studio/courses/{offering.id}"
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    for url in (f"{base}/learners", f"{base}/learners.csv", f"{base}/orders/{enrollment.order_id}/refund"):
        assert client.get(url).status_code == 404, url
    for url in (
        f"{base}/learners/grant",
        f"{base}/learners/import",
        f"{base}/learners/{enrollment.id}/revoke",
        f"{base}/learners/{enrollment.id}/restore",
        f"{base}/orders/{enrollment.order_id}/refund",
    ):
        response = client.post(url, data={"csrf_token": token, "email": "x@example.org", "amount": "49"})
        assert response.status_code == 404, url
    db.session.refresh(enrollment)
    assert enrollment.status is EnrollmentStatus.ACTIVE
    assert enrollment.order.refunded_cents == 0
    assert enrollments_count(offering) == 1


def test_an_enrollment_of_another_offering_is_not_found(web, client, offering, creator):
    mine_too = OfferingFactory(creator=creator)
    elsewhere = enrol(mine_too, "else@example.org")
    token = csrf_token_from(page(client, offering))
    response = client.post(f"/studio/courses/{offering.id}/learners/{elsewhere.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 404
    assert elsewhere.status is EnrollmentStatus.ACTIVE


# ---------------------------------------------------------------------------
# Giving access by e-mail
# ---------------------------------------------------------------------------


def test_grant_to_an_existing_account_emails_them_and_opens_the_lessons(web, client, offering, mailbox):
    UserFactory(email="jo@example.org", name="Jo Smith")
    html = grant(web, offering, "  JO@Example.org ").get_data(as_text=True)
    assert "jo@example.org now has access, and we&#39;ve e-mailed them the link." in html
    enrollment = enrollment_of(offering, "jo@example.org")
    assert enrollment.source is EnrollmentSource.COMP and enrollment.is_active

    (message,) = mailbox.messages
    assert message["To"] == "jo@example.org"
    assert message["Subject"] == "You've been given access to Grounding Skills"
    assert "http://aqueduct.test/learn/grounding" in mailbox.last_body()

    as_learner(web, "jo@example.org")
    lesson = lessons_of(offering)[1]
    response = client.get(f"/learn/grounding/lessons/{lesson.id}")
    assert response.status_code == 200
    assert lesson.title in response.get_data(as_text=True)


def test_grant_to_a_new_address_creates_an_account_and_the_invitation_sets_a_password(web, client, offering, mailbox):
    html = grant(web, offering, "new.person@example.org", name="New Person").get_data(as_text=True)
    assert "They had no account, so we&#39;ve made one and e-mailed them an invitation to choose a password." in html
    user = db.session.scalar(sa.select(User).filter_by(email="new.person@example.org"))
    assert user.name == "New Person"
    assert user.password_hash == INVITED_MARKER
    assert enrollment_of(offering, "new.person@example.org").is_active

    (message,) = mailbox.messages
    assert message["Subject"].endswith("invited you to Grounding Skills on Aqueduct")
    body = mailbox.last_body()
    assert "works once, for 7 days" in body
    set_password, learn = LINK_RE.findall(body)[:2]
    assert set_password.startswith("/password/reset/")
    assert learn == "/learn/grounding"

    web.logout()
    assert "Choose your password" in client.get(set_password).get_data(as_text=True)
    landed = web.submit(set_password, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert landed.request.path == "/learn"
    assert "Your password is set. Welcome to Aqueduct" in landed.get_data(as_text=True)
    assert "Grounding Skills" in landed.get_data(as_text=True)
    web.logout()
    web.login("new.person@example.org", NEW_PASSWORD)
    response = client.get(learn, follow_redirects=True)
    assert response.status_code == 200
    assert "Lesson 1" in response.get_data(as_text=True)
    assert client.get(set_password, follow_redirects=True).request.path == "/password/forgot", "the link works once"


def test_name_defaults_to_the_part_before_the_at(web, offering, mailbox):
    grant(web, offering, "river.stone@example.org")
    assert db.session.scalar(sa.select(User.name).filter_by(email="river.stone@example.org")) == "river.stone"


def test_an_invited_account_cannot_log_in_until_a_password_is_chosen(web, client, offering, mailbox):
    grant(web, offering, "locked@example.org")
    web.logout()
    for attempt in (INVITED_MARKER, PASSWORD):
        response = web.login("locked@example.org", attempt)
        assert response.request.path == "/login"
        assert "That e-mail and password don&#39;t match an account." in response.get_data(as_text=True)


def test_invitation_link_lasts_seven_days_not_one_hour(web, offering, mailbox, monkeypatch):
    grant(web, offering, "slow@example.org")
    token = LINK_RE.findall(mailbox.last_body())[0].rsplit("/", 1)[1]
    import courseplatform.accounts.services as accounts

    monkeypatch.setattr(accounts, "utcnow", lambda: utcnow() + timedelta(days=6))
    assert user_for_reset_token(token).email == "slow@example.org"
    monkeypatch.setattr(accounts, "utcnow", lambda: utcnow() + timedelta(days=8))
    with pytest.raises(accounts.AccountError, match="This invitation link has expired"):
        user_for_reset_token(token)


def test_granting_again_an_invited_person_sends_a_fresh_invitation(web, offering, creator, mailbox):
    grant(web, offering, "twice@example.org")
    other = OfferingFactory(creator=creator, slug="second", title="Second Course")
    mailbox.clear()
    html = web.submit(
        f"/studio/courses/{other.id}/learners/grant",
        {"email": "twice@example.org"},
        form_url=f"/studio/courses/{other.id}/learners",
    ).get_data(as_text=True)
    assert "They haven&#39;t chosen a password yet, so we&#39;ve e-mailed them an invitation." in html
    assert "/password/reset/" in mailbox.last_body()


@pytest.fixture
def mail_server_down(app, monkeypatch):
    """Mail goes over SMTP to a port nobody answers on."""
    for key, value in {"MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": 9, "SMTP_TIMEOUT": 2}.items():
        monkeypatch.setitem(app.config, key, value)


def test_access_is_given_and_its_email_kept_for_later_when_the_mail_server_is_down(web, offering, mail_server_down):
    grant(web, offering, "unlucky@example.org")
    assert enrollment_of(offering, "unlucky@example.org").is_active

    html = upload(web, offering, b"one@example.org\ntwo@example.org\n").get_data(as_text=True)
    assert "<dt>Enrolled</dt><dd>2</dd>" in html
    # The accounts and enrollments are committed; the invitations wait in the outbox for the server.
    waiting = db.session.scalars(
        sa.select(OutgoingMail.recipient).where(OutgoingMail.status == MailStatus.PENDING).order_by(OutgoingMail.id)
    ).all()
    assert waiting == ["unlucky@example.org", "one@example.org", "two@example.org"]


def test_granting_twice_changes_nothing_and_says_so(web, offering, mailbox):
    UserFactory(email="jo@example.org")
    grant(web, offering, "jo@example.org")
    mailbox.clear()
    html = grant(web, offering, "jo@example.org").get_data(as_text=True)
    assert "jo@example.org already has access to Grounding Skills. Nothing changed." in html
    assert enrollments_count(offering) == 1
    assert mailbox.messages == []


def test_granting_again_someone_who_never_chose_a_password_resends_the_invitation(web, offering, mailbox):
    grant(web, offering, "lost.mail@example.org")
    mailbox.clear()
    html = grant(web, offering, "lost.mail@example.org").get_data(as_text=True)
    assert "already has access but hasn&#39;t chosen a password yet: we&#39;ve sent the invitation again." in html
    assert "/password/reset/" in mailbox.last_body()
    assert enrollments_count(offering) == 1


def test_granting_a_revoked_learner_gives_access_back(web, offering, mailbox):
    enrollment = paid(offering, "back@example.org")
    enrollment.status = EnrollmentStatus.REVOKED
    db.session.flush()
    html = grant(web, offering, "back@example.org").get_data(as_text=True)
    assert "back@example.org has access again" in html
    db.session.refresh(enrollment)
    assert enrollment.is_active and enrollment.source is EnrollmentSource.COMP
    assert enrollments_count(offering) == 1


def test_grant_refuses_a_full_workshop(web, creator, mailbox):
    workshop = OfferingFactory(creator=creator, kind=OfferingKind.LIVE_WORKSHOP, title="Live Circle")
    live_session(workshop, capacity=1)
    enrol(workshop, "first@example.org")
    html = grant(web, workshop, "second@example.org").get_data(as_text=True)
    assert "Live Circle is full: every seat is taken." in html
    assert enrollment_of(workshop, "second@example.org") is None
    assert db.session.scalar(sa.select(User).filter_by(email="second@example.org")) is None
    assert mailbox.messages == []


def test_grant_refuses_a_learner_paused_by_a_dispute(web, offering):
    enrollment = paid(offering, "dispute@example.org")
    enrollment.status = EnrollmentStatus.SUSPENDED
    db.session.flush()
    html = grant(web, offering, "dispute@example.org").get_data(as_text=True)
    assert "paused while a payment dispute is open" in html
    assert enrollment.status is EnrollmentStatus.SUSPENDED


@pytest.mark.parametrize(
    ("email", "message"),
    [("", "Enter the person&#39;s e-mail address."), ("not-an-address", "Enter an e-mail address such as")],
)
def test_grant_with_a_bad_address_says_why_and_changes_nothing(web, offering, mailbox, email, message):
    response = grant(web, offering, email)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert enrollments_count(offering) == 0
    assert mailbox.messages == []


def test_creator_cannot_grant_their_own_account(web, offering, mailbox):
    html = grant(web, offering, "maya@example.org").get_data(as_text=True)
    assert "That&#39;s the creator&#39;s own account" in html
    assert enrollments_count(offering) == 0


# ---------------------------------------------------------------------------
# Enrolling a list from a CSV
# ---------------------------------------------------------------------------


def test_csv_enrols_the_good_lines_and_reports_the_rest_by_line(web, client, offering, mailbox):
    UserFactory(email="existing@example.org", name="Existing Person")
    enrol(offering, "already@example.org")
    mailbox.clear()
    content = (
        b"email,name\n"  # 1
        b"new.one@example.org,New One\n"  # 2
        b"Existing@Example.org,\n"  # 3
        b"not-an-address,Bad Row\n"  # 4
        b"new.one@example.org,Again\n"  # 5
        b"\n"  # 6 (blank)
        b"already@example.org,Already Here\n"  # 7
        b",Only A Name\n"  # 8
        b"new.two@example.org\n"  # 9
    )
    response = upload(web, offering, content, filename="spring-cohort.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Enrolment report" in html and "spring-cohort.csv" in html

    figures = re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", html)
    assert figures == [("Enrolled", "3"), ("Already had access", "1"), ("Not enrolled", "3")]
    assert "New accounts: 2" in html and "Existing accounts enrolled: 1" in html
    rejected = re.findall(
        r'<th scope="row">(\d+)</th>\s*<td data-label="What it says">([^<]*)</td>\s*<td data-label="Why">([^<]*)</td>',
        html,
    )
    assert rejected == [
        ("4", "not-an-address", "Not an e-mail address"),
        ("5", "new.one@example.org", "Duplicate: already listed on line 2"),
        ("8", "Only A Name", "No e-mail address"),
    ]
    assert "Line 1 was read as column names and skipped." in html
    assert "1 blank line was skipped." in html

    for email in ("new.one@example.org", "existing@example.org", "new.two@example.org", "already@example.org"):
        assert enrollment_of(offering, email).is_active, email
    assert enrollment_of(offering, "new.one@example.org").source is EnrollmentSource.IMPORT
    assert db.session.scalar(sa.select(User.name).filter_by(email="new.one@example.org")) == "New One"
    assert db.session.scalar(sa.select(User.name).filter_by(email="new.two@example.org")) == "new.two"
    assert enrollments_count(offering) == 4

    sent = {message["To"]: message for message in mailbox.messages}
    assert set(sent) == {"new.one@example.org", "existing@example.org", "new.two@example.org"}
    assert "/password/reset/" in sent["new.one@example.org"].get_body().get_content()
    assert "/password/reset/" not in sent["existing@example.org"].get_body().get_content()


def test_a_single_column_without_header_with_bom_semicolons_and_excel_quirks(web, offering, mailbox):
    content = "\ufeffjo@example.org\r\nkim@example.org\r\n\r\n".encode()
    html = upload(web, offering, content, notify=False).get_data(as_text=True)
    assert "<dt>Enrolled</dt><dd>2</dd>" in html
    assert "read as column names" not in html
    assert "blank" not in html, "blank lines at the end are not worth a mention"
    assert mailbox.messages == [], "the creator chose not to e-mail"

    content = "First name;Last name;E-mail address\nAna;Ruiz;ana@example.org\n".encode("cp1252")
    upload(web, offering, content)
    assert db.session.scalar(sa.select(User.name).filter_by(email="ana@example.org")) == "Ana Ruiz"


def test_mail_program_style_addresses_are_understood(web, offering, mailbox):
    upload(web, offering, b'"Jo Smith" <jo.smith@example.org>\nLee Park,lee@example.org\n')
    assert db.session.scalar(sa.select(User.name).filter_by(email="jo.smith@example.org")) == "Jo Smith"
    assert db.session.scalar(sa.select(User.name).filter_by(email="lee@example.org")) == "Lee Park"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "That file is empty."),
        (b"\n\n  \n", "That file is empty."),
        (b"x" * (1024 * 1024 + 1), "That file is larger than 1 MB."),
        (b"PK\x03\x04 spreadsheet bytes", "That file isn&#39;t a CSV."),
        (b"email\n", "That file has no e-mail addresses in it."),
        (
            "\n".join(f"p{n}@example.org" for n in range(MAX_IMPORT_ROWS + 1)).encode(),
            "That file has more than 5,000 people.",
        ),
    ],
)
def test_a_file_that_cannot_be_used_changes_nothing(web, offering, mailbox, content, message):
    response = upload(web, offering, content)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert enrollments_count(offering) == 0
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.email.like("p%@example.org"))) == 0
    assert mailbox.messages == []


def test_uploading_without_choosing_a_file_says_so(web, offering):
    html = web.submit(
        f"/studio/courses/{offering.id}/learners/import",
        {"notify": "y"},
        form_url=f"/studio/courses/{offering.id}/learners",
    ).get_data(as_text=True)
    assert "Choose a CSV file to upload." in html
    assert 'id="add-learners" open' in html


def test_csv_respects_a_workshop_capacity(web, creator, mailbox):
    workshop = OfferingFactory(creator=creator, kind=OfferingKind.LIVE_WORKSHOP)
    live_session(workshop, capacity=2)
    enrol(workshop, "seated@example.org")
    html = upload(web, workshop, b"a@example.org\nb@example.org\nc@example.org\n").get_data(as_text=True)
    assert "<dt>Enrolled</dt><dd>1</dd>" in html
    assert html.count("The workshop is full") == 2
    assert enrollment_of(workshop, "a@example.org").is_active
    assert enrollment_of(workshop, "c@example.org") is None


# ---------------------------------------------------------------------------
# Revoking and restoring
# ---------------------------------------------------------------------------


def test_revoke_ends_access_at_once(web, client, offering):
    enrollment = enrol(offering, "gone@example.org")
    token = csrf_token_from(page(client, offering))
    response = client.post(
        f"/studio/courses/{offering.id}/learners/{enrollment.id}/revoke?q=gone",
        data={"csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/studio/courses/{offering.id}/learners?q=gone", "the search is kept"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "gone@example.org no longer has access to Grounding Skills. No money was refunded." in html
    db.session.refresh(enrollment)
    assert enrollment.status is EnrollmentStatus.REVOKED and enrollment.revoked_at is not None

    as_learner(web, "gone@example.org")
    response = client.get(f"/learn/grounding/lessons/{lessons_of(offering)[0].id}")
    assert response.status_code == 403
    assert "ended your access on" in response.get_data(as_text=True)


def test_revoke_needs_the_forms_token(web, client, offering):
    enrollment = enrol(offering, "stay@example.org")
    response = client.post(f"/studio/courses/{offering.id}/learners/{enrollment.id}/revoke")
    assert response.status_code == 400
    assert enrollment.status is EnrollmentStatus.ACTIVE


def test_restore_gives_access_back_keeping_the_purchase(web, client, offering):
    enrollment = paid(offering, "oops@example.org")
    enrollment.status = EnrollmentStatus.REVOKED
    db.session.flush()
    web.submit(
        f"/studio/courses/{offering.id}/learners/{enrollment.id}/restore",
        {},
        form_url=f"/studio/courses/{offering.id}/learners",
    )
    db.session.refresh(enrollment)
    assert enrollment.is_active
    assert enrollment.source is EnrollmentSource.PURCHASE and enrollment.order_id is not None


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------


def test_export_csv_has_every_learner_with_progress_and_money(web, client, offering):
    enrollment = paid(offering, "pat@example.org", name="Pat Buyer", done=2)
    enrollment.enrolled_at = utcnow().replace(year=2026, month=1, day=5, hour=14, minute=30, second=0, microsecond=0)
    enrollment.order.status = OrderStatus.PARTIALLY_REFUNDED
    enrollment.order.refunded_cents = 1000
    enrol(offering, "kim@example.org", name="Kim Guest", source=EnrollmentSource.COMP)
    db.session.flush()

    response = client.get(f"/studio/courses/{offering.id}/learners.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="grounding-learners.csv"'
    assert response.headers["Cache-Control"] == "private, no-store"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "name",
        "email",
        "source",
        "status",
        "enrolled_at",
        "lessons_done",
        "lessons_total",
        "progress_percent",
        "order_id",
        "order_status",
        "amount_paid",
        "refunded",
    ]
    assert rows[1] == [
        "Pat Buyer",
        "pat@example.org",
        "Purchase",
        "Active",
        "2026-01-05T14:30:00+00:00",
        "2",
        "4",
        "50",
        str(enrollment.order_id),
        "Partly refunded",
        "49.00",
        "10.00",
    ]
    assert rows[2][:4] == ["Kim Guest", "kim@example.org", "Complimentary", "Active"]
    assert rows[2][8:] == ["", "", "", ""]


def test_export_neutralises_spreadsheet_formulas_and_follows_the_search(web, client, offering):
    enrol(offering, "evil@example.org", name='=HYPERLINK("http://evil.example","click")')
    enrol(offering, "plain@example.org", name="Plain Name")
    body = client.get(f"/studio/courses/{offering.id}/learners.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[1][:2] == ['\'=HYPERLINK("http://evil.example","click")', "evil@example.org"]

    rows = list(
        csv.reader(
            io.StringIO(client.get(f"/studio/courses/{offering.id}/learners.csv?q=plain").get_data(as_text=True))
        )
    )
    assert [row[1] for row in rows[1:]] == ["plain@example.org"]


# ---------------------------------------------------------------------------
# Query counts
# ---------------------------------------------------------------------------


def test_the_roster_runs_a_constant_number_of_queries(web, client, offering, count_queries):
    counts = []
    made = 0
    for size in (3, 40):
        for n in range(made, size):
            enrollment = (
                paid(offering, f"buyer{n}@example.org", done=n % 4)
                if n % 2
                else enrol(offering, f"guest{n}@example.org", done=1)
            )
            if n % 5 == 0:
                enrollment.status = EnrollmentStatus.REVOKED
        made = size
        db.session.flush()
        with count_queries() as counter:
            html = page(client, offering)
        assert html.count('<th scope="row">') == size
        counts.append(counter.count)
    assert counts[0] == counts[1], f"{counts[0]} queries with 3 learners, {counts[1]} with 40"

    with count_queries() as small:
        client.get(f"/studio/courses/{offering.id}/learners.csv?status=active")
    enrol(offering, "one.more@example.org", done=2)
    with count_queries() as large:
        client.get(f"/studio/courses/{offering.id}/learners.csv")
    assert small.count == large.count
