"""The practice waitlist page: crisis lines first, an e-mail address and consent and nothing else, the same
answer for a new or a known address, and leaving with one link, without an account."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import OutgoingMail, PracticeWaitlistEntry, utcnow

from ..markup import text_of

PAGE = "/t/maya/waitlist"
CLINICAL = {
    "reason": "panic attacks since my divorce",
    "symptoms": "can't sleep, thoughts of self-harm",
    "diagnosis": "GAD",
    "name": "Jo Smith",
    "phone": "555-0100",
    "email2": "other@example.org",
}


def entries(profile) -> list[PracticeWaitlistEntry]:
    return list(
        db.session.scalars(
            sa.select(PracticeWaitlistEntry)
            .where(PracticeWaitlistEntry.creator_id == profile.id)
            .order_by(PracticeWaitlistEntry.id)
        )
    )


def join(web, email: str, consent: bool = True, **extra):
    data = {"email": email, **extra}
    if consent:
        data["consent"] = "y"
    return web.submit(PAGE, data)


def leave_link(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"http://\S+/waitlist/leave/\S+", body).group(0)


def test_the_page_shows_crisis_lines_first_the_therapists_words_public_offerings_and_colleagues(client, therapist):
    html = client.get(PAGE).get_data(as_text=True)
    text = text_of(html)
    assert text.index("Call or text 988") < text.index("isn't taking new clients right now"), "crisis lines first"
    assert "Joining this list doesn't make you a client of Dr. Maya Okafor" in text
    assert "My practice is full until spring." in text
    assert "Licensed Clinical Social Worker, New York #012345" in text
    assert "While You Wait" in text, "the free course for the public is offered"
    assert "Grounding for Clinicians" not in text and "Unfinished Draft" not in text
    assert "Dr. Sam Lee, PsyD" in text and "Anxiety and OCD" in text
    assert 'href="https://example.com/sam" rel="nofollow noopener noreferrer external"' in html
    assert 'name="email"' in html and 'name="consent"' in html
    form = html[
        html.index('action="/t/maya/waitlist"') : html.index("</form>", html.index('action="/t/maya/waitlist"'))
    ]
    assert re.findall(r'<(?:input|textarea|select)\b[^>]*name="(\w+)"', form) == ["csrf_token", "email", "consent"], (
        "an e-mail address and a consent box: nothing else is asked"
    )


@pytest.mark.parametrize("setting", ["closed", "suspended", "unknown"])
def test_a_closed_waitlist_page_is_not_found(client, therapist, setting):
    if setting == "closed":
        therapist.practice_waitlist_open = False
    elif setting == "suspended":
        therapist.suspended_at = utcnow()
    db.session.flush()
    assert client.get("/t/nobody/waitlist" if setting == "unknown" else PAGE).status_code == 404
    assert client.post(PAGE, data={"email": "a@example.org", "consent": "y"}).status_code in (400, 404)
    assert entries(therapist) == []


def test_joining_keeps_the_address_and_nothing_else_whatever_else_is_sent(web, therapist, mailbox):
    response = join(web, "  Jo.Smith@Example.ORG ", **CLINICAL)
    assert response.request.path == PAGE
    assert "jo.smith@example.org is on Dr. Maya Okafor's waitlist" in text_of(response.get_data(as_text=True))

    [entry] = entries(therapist)
    assert entry.email == "jo.smith@example.org" and entry.left_at is None and entry.last_mailed_at is None
    stored = {column.name for column in PracticeWaitlistEntry.__table__.columns}
    assert stored == {
        "id",
        "creator_id",
        "email",
        "created_at",
        "last_mailed_at",
        "left_at",
        "enrolled_before_leaving",
        "income_before_leaving_cents",
    }, "an address and dates: no column could hold a reason, symptom or diagnosis"
    outbox = db.session.scalars(sa.select(OutgoingMail.text)).all()
    for value in CLINICAL.values():
        assert not any(value in text for text in outbox)
    assert "other@example.org" not in [m["To"] for m in mailbox.messages]

    [note] = mailbox.messages
    assert note["To"] == "jo.smith@example.org" and note["Subject"] == "You're on Dr. Maya Okafor's waitlist"
    body = note.get_body(preferencelist=("plain",)).get_content()
    assert "doesn't make you a client" in body and "988" in body
    assert note["List-Unsubscribe"].strip() == f"<{leave_link(note)}>"
    assert note["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_joining_again_answers_the_same_and_sends_nothing_more(web, therapist, mailbox):
    first = text_of(join(web, "jo@example.org").get_data(as_text=True))
    web.client.delete_cookie("session")
    second = text_of(join(web, "JO@example.org").get_data(as_text=True))
    assert "jo@example.org is on Dr. Maya Okafor's waitlist" in first
    assert "jo@example.org is on Dr. Maya Okafor's waitlist" in second, "nobody can tell who was already on it"
    assert len(entries(therapist)) == 1 and len(mailbox.messages) == 1


@pytest.mark.parametrize(
    "email, consent, problem",
    [
        ("jo@example.org", False, "Tick the box so we may write to you about openings."),
        ("not-an-address", True, None),
        ("", True, "Enter your e-mail address."),
        ("a" * 250 + "@example.org", True, None),
        ("jo@example.org\r\nBcc: everyone@example.org", True, None),
    ],
)
def test_anything_but_an_address_and_consent_is_refused_and_changes_nothing(
    web, therapist, mailbox, email, consent, problem
):
    response = join(web, email, consent=consent)
    assert response.status_code == 400
    if problem:
        assert problem in text_of(response.get_data(as_text=True))
    assert entries(therapist) == [] and mailbox.messages == []


def test_leaving_takes_one_link_and_no_account(web, client, therapist, mailbox):
    join(web, "jo@example.org")
    link = leave_link(mailbox.messages[0]).replace("http://localhost", "")
    stranger = client.application.test_client()

    page = stranger.get(link)
    assert page.status_code == 200
    assert "Leave Dr. Maya Okafor's waitlist?" in text_of(page.get_data(as_text=True))
    assert entries(therapist)[0].email == "jo@example.org", "opening the link (a mail scanner, say) changes nothing"

    done = stranger.post(link)
    assert done.status_code == 200
    assert "You've left the waitlist" in text_of(done.get_data(as_text=True))
    [entry] = entries(therapist)
    assert entry.email is None and entry.left_at is not None, "the address is erased"
    assert db.session.scalars(sa.select(OutgoingMail.recipient)).all() == [""], "from the outbox too"

    again = stranger.post(link)
    assert "You're not on this waitlist" in text_of(stranger.get(link).get_data(as_text=True))
    assert again.status_code == 200 and len(entries(therapist)) == 1


def test_a_mail_apps_one_click_unsubscribe_works(web, client, therapist, mailbox):
    join(web, "jo@example.org")
    link = leave_link(mailbox.messages[0]).replace("http://localhost", "")
    response = client.application.test_client().post(link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert entries(therapist)[0].email is None


@pytest.mark.parametrize(
    "token",
    ["nonsense", "MQ.forged-signature", "", "x" * 5000, "%00", "Ijk5OTk5OTk5OTk5OTk5OTk5OTk5Ig"],
)
def test_a_forged_or_broken_link_removes_nobody(web, client, therapist, mailbox, token):
    join(web, "jo@example.org")
    for method in (client.get, client.post):
        assert method(f"/waitlist/leave/{token}").status_code in (400, 404)
    assert entries(therapist)[0].email == "jo@example.org"


def test_a_link_for_someone_else_can_only_be_made_with_the_secret(app, therapist):
    from itsdangerous import URLSafeSerializer

    from courseplatform.practice import entry_for_token

    entry = PracticeWaitlistEntry(creator_id=therapist.id, email="jo@example.org")
    db.session.add(entry)
    db.session.flush()
    with app.test_request_context():
        assert entry_for_token(URLSafeSerializer("guessed", salt="practice-waitlist-leave").dumps(entry.id)) is None
        assert entry_for_token(URLSafeSerializer(app.config["SECRET_KEY"], salt="other").dumps(entry.id)) is None
        real = URLSafeSerializer(app.config["SECRET_KEY"], salt="practice-waitlist-leave")
        assert entry_for_token(real.dumps(entry.id)) == entry
        for odd in ("1", True, 2**70, -1, [entry.id], None):
            assert entry_for_token(real.dumps(odd)) is None


def test_the_storefront_links_to_an_open_waitlist(client, therapist):
    text = text_of(client.get("/t/maya").get_data(as_text=True))
    assert "isn't taking new clients right now. Join the waitlist, and find help while you wait" in text
    therapist.practice_waitlist_open = False
    db.session.commit()
    assert "Join the waitlist" not in text_of(client.get("/t/maya").get_data(as_text=True))
