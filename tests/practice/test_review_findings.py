"""Found by a hostile review of the practice waitlist, each fixed: mail to someone who left, a form sent twice,
line breaks in a subject or a name, and one-click unsubscribes all relayed by one mail provider."""

from __future__ import annotations

import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Job

from ..helpers import csrf_token_from
from .lists import STUDIO, on_list, send_key_of


def test_a_subject_with_a_line_break_is_refused_not_queued_to_fail(web, signed_in, mailbox):
    """A subject holding CR/LF passes the form, is stored, and then every e-mail of the job raises in
    build_message (EmailMessage refuses line breaks in a header): nobody gets the message, the therapist is
    told "Writing to N people", and the outbox retries each for hours."""
    on_list(signed_in, "ann@example.org", "bo@example.org")
    page = web.client.get(STUDIO).get_data(as_text=True)
    key = send_key_of(page)
    response = web.submit(
        f"{STUDIO}/mail",
        {"subject": "A place opened\r\nBcc: x@example.org", "message": "Hi", "recipients": "all", "send_key": key},
        form_url=STUDIO,
    )
    assert response.status_code == 400, "a subject is one line: a clear 4xx, nothing queued"
    assert db.session.scalar(sa.select(sa.func.count(Job.id)).where(Job.kind == "practice_waitlist.mail")) == 0


def test_double_submitting_the_mail_form_writes_to_each_person_once(web, signed_in, mailbox):
    """The same form posted twice (a double click that lands after the job finished, or the browser's
    "resend" on reload) writes to everyone twice: only a PENDING/RUNNING job is refused."""
    on_list(signed_in, "ann@example.org", "bo@example.org")
    page = web.client.get(STUDIO).get_data(as_text=True)
    key = send_key_of(page)
    data = {"csrf_token": csrf_token_from(page), "send_key": key, "subject": "A place opened", "message": "Hi"}
    data["recipients"] = "all"
    web.client.post(f"{STUDIO}/mail", data=data)
    web.client.post(f"{STUDIO}/mail", data=data)
    assert sorted(m["To"] for m in mailbox.messages) == ["ann@example.org", "bo@example.org"], (
        "one submission of one form writes once"
    )


def test_someone_who_left_is_not_sent_a_message_still_in_the_outbox(web, client, signed_in, mailbox, app):
    """The job records the e-mails; if the mail server is down they wait in the outbox (retried for hours).
    Someone who leaves meanwhile (with the link of their earlier e-mail) is still sent it, and the outbox
    keeps their address after "Your e-mail address has been removed"."""
    from courseplatform.integrations.mail import deliver_pending
    from courseplatform.jobs.dispatch import AFTER_COMMIT
    from courseplatform.practice import leave_url, mail_job, start_mailing

    ann, _bo = on_list(signed_in, "ann@example.org", "bo@example.org")
    with app.test_request_context():
        start_mailing(signed_in, "A place opened", "Hi", None, "0" * 32)
        job = db.session.scalar(sa.select(Job).where(Job.kind == "practice_waitlist.mail"))
        mail_job(job)
        link = leave_url(ann).replace("http://localhost", "")
    db.session.info[AFTER_COMMIT] = []  # as if the mail server refused them: they wait for the next sweep
    db.session.commit()
    assert mailbox.messages == []

    assert client.application.test_client().post(link).status_code == 200  # Ann leaves
    db.session.expire_all()
    assert ann.email is None

    deliver_pending()
    assert [m["To"] for m in mailbox.messages] == ["bo@example.org"], "someone who left is never mailed"


def test_one_click_unsubscribes_relayed_by_one_mail_provider_are_not_rate_limited(client, therapist):
    """RFC 8058 one-click POSTs come from the mailbox provider's servers (Gmail, Outlook), not the reader's
    machine: after a mailing, the 31st Gmail user in an hour to press "Unsubscribe" gets a 429, stays on the
    list and is written to again. The signed link is already the permission; guessing one is hopeless."""
    from courseplatform.practice import leave_url

    people = on_list(therapist, *(f"p{n}@gmail.com" for n in range(35)))
    gmail = client.application.test_client()
    with client.application.test_request_context():
        links = [leave_url(entry).replace("http://localhost", "") for entry in people]
    answers = [
        gmail.post(
            link, data={"List-Unsubscribe": "One-Click"}, environ_base={"REMOTE_ADDR": "209.85.220.41"}
        ).status_code
        for link in links
    ]
    assert answers == [200] * len(links)
    db.session.expire_all()
    assert all(entry.email is None for entry in people), "everyone who pressed Unsubscribe has left"


def test_a_display_name_with_a_line_break_doesnt_stop_the_joining_note(web, therapist, mailbox):
    """The profile form accepts a display name with a line break (CR/LF pass the request guard and the
    StringField); the joining note puts it in the Subject, so build_message raises for every new sign-up:
    nobody gets their note or the link to leave that it carries."""
    therapist.display_name = "Dr. Maya Okafor\r\nLCSW"
    db.session.commit()
    web.submit("/t/maya/waitlist", {"email": "jo@example.org", "consent": "y"})
    assert [m["To"] for m in mailbox.messages] == ["jo@example.org"], "the note with the link to leave arrives"
