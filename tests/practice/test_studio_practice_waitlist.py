"""The therapist's side of the practice waitlist: opening the page, counts, writing to the list when a place
opens (a job; each person their own e-mail and link to leave), the CSV, removing people, and colleagues."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Job, JobStatus, PracticeWaitlistEntry, ReferralPartner, utcnow

from ..factories import CreatorProfileFactory
from ..markup import text_of
from .lists import STUDIO, on_list, send


def body_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_opening_and_closing_the_page(web, client, signed_in):
    signed_in.practice_waitlist_open = False
    db.session.commit()
    response = web.submit(f"{STUDIO}/settings", {"open": "y", "message": "  Full until May.  "}, form_url=STUDIO)
    assert "Your waitlist page is open" in text_of(response.get_data(as_text=True))
    assert (signed_in.practice_waitlist_open, signed_in.practice_waitlist_message) == (True, "Full until May.")
    assert client.application.test_client().get("/t/maya/waitlist").status_code == 200

    web.submit(f"{STUDIO}/settings", {"message": "Full until May."}, form_url=STUDIO)
    db.session.expire_all()
    assert signed_in.practice_waitlist_open is False
    assert client.application.test_client().get("/t/maya/waitlist").status_code == 404


def test_the_studio_page_counts_and_lists_who_is_waiting(web, signed_in):
    on_list(signed_in, "ann@example.org", "bo@example.org", days_ago=40)
    on_list(signed_in, "cy@example.org", days_ago=3)
    db.session.add(PracticeWaitlistEntry(creator_id=signed_in.id, email=None, left_at=utcnow()))
    other = CreatorProfileFactory()
    on_list(other, "someone-elses@example.org")
    text = text_of(web.client.get(STUDIO).get_data(as_text=True))
    assert "On the list 3" in text and "Joined in the last 30 days 1" in text and "Left 1" in text
    assert text.index("ann@example.org") < text.index("bo@example.org") < text.index("cy@example.org")
    assert "someone-elses@example.org" not in text


def test_writing_to_the_list_sends_each_their_own_email_and_link_to_leave(web, signed_in, mailbox):
    on_list(signed_in, "ann@example.org", "bo@example.org", "cy@example.org")
    response = send(
        web,
        **{
            "subject": "A place has opened",
            "message": "Reply if you'd still like a weekly session.",
            "recipients": "all",
        },
    )
    assert "Writing to 3 people on your waitlist." in text_of(response.get_data(as_text=True))
    job = db.session.scalar(sa.select(Job).where(Job.kind == "practice_waitlist.mail"))
    assert job.status is JobStatus.DONE

    messages = sorted(mailbox.messages, key=lambda m: m["To"])
    assert [m["To"] for m in messages] == ["ann@example.org", "bo@example.org", "cy@example.org"]
    links = set()
    for message in messages:
        body = body_of(message)
        assert message["Subject"] == "A place has opened" and message["Reply-To"] == "maya@example.org"
        assert body.startswith("Reply if you'd still like a weekly session.") and "988" in body
        link = re.search(r"http://\S+/waitlist/leave/\S+", body).group(0)
        assert message["List-Unsubscribe"].strip() == f"<{link}>"
        links.add(link)
        assert "ann@example.org" not in body or message["To"] == "ann@example.org"
    assert len(links) == 3, "a link of their own each"
    assert all(e.last_mailed_at is not None for e in db.session.scalars(sa.select(PracticeWaitlistEntry)))

    page = text_of(web.client.get(STUDIO).get_data(as_text=True))
    assert "Told 3 people: 3 sent" in page and "Not written to yet 0" in page


def test_writing_to_those_who_waited_longest(web, signed_in, mailbox):
    on_list(signed_in, "ann@example.org", "bo@example.org", "cy@example.org")
    send(web, **{"subject": "One place", "message": "One place opened.", "recipients": "first", "count": "2"})
    assert sorted(m["To"] for m in mailbox.messages) == ["ann@example.org", "bo@example.org"]


@pytest.mark.parametrize(
    "fields, problem",
    [
        ({"subject": "", "message": "Hi"}, "Give the e-mail a subject."),
        ({"subject": "Hi", "message": "   "}, "Write the message."),
        ({"subject": "Hi", "message": "x" * 5001}, "Field cannot be longer than 5000 characters."),
        ({"subject": "Hi", "message": "Hi", "recipients": "first", "count": ""}, "Say how many"),
        ({"subject": "Hi", "message": "Hi", "recipients": "first", "count": "1e309"}, None),
        ({"subject": "Hi", "message": "Hi", "recipients": "first", "count": "0"}, "Enter a number from 1 to 100,000."),
        ({"subject": "Hi", "message": "Hi", "recipients": "everyone-ever"}, "Not a valid choice."),
    ],
)
def test_a_bad_message_is_refused_and_nobody_is_written_to(web, signed_in, mailbox, fields, problem):
    on_list(signed_in, "ann@example.org")
    response = send(web, **{"recipients": "all", **fields})
    assert response.status_code == 400
    if problem:
        assert problem in text_of(response.get_data(as_text=True))
    assert db.session.scalar(sa.select(sa.func.count(Job.id))) == 0 and mailbox.messages == []


def test_writing_to_an_empty_list_is_refused(web, signed_in, mailbox):
    response = send(web, **{"subject": "Hi", "message": "Hi", "recipients": "all"})
    assert response.status_code == 400
    assert "There's nobody on your waitlist to write to yet." in text_of(response.get_data(as_text=True))


def test_people_who_left_are_never_written_to(web, signed_in, mailbox):
    ann, _bo = on_list(signed_in, "ann@example.org", "bo@example.org")
    web.submit(f"{STUDIO}/{ann.id}/remove", {}, form_url=STUDIO)
    db.session.expire_all()
    assert ann.email is None and ann.left_at is not None
    send(web, **{"subject": "Hi", "message": "Hi", "recipients": "all"})
    assert [m["To"] for m in mailbox.messages] == ["bo@example.org"]


def test_removing_someone_elses_entry_is_not_found(web, signed_in):
    [theirs] = on_list(CreatorProfileFactory(), "x@example.org")
    page = web.client.get(STUDIO).get_data(as_text=True)
    from ..helpers import csrf_token_from

    token = csrf_token_from(page)
    assert web.client.post(f"{STUDIO}/{theirs.id}/remove", data={"csrf_token": token}).status_code == 404
    assert web.client.post(f"{STUDIO}/99999999999999999999/remove", data={"csrf_token": token}).status_code == 404
    assert theirs.email == "x@example.org"


def test_the_csv_holds_addresses_and_dates_of_those_on_the_list(web, signed_in):
    on_list(signed_in, "ann@example.org", "=cmd@example.org")
    db.session.add(PracticeWaitlistEntry(creator_id=signed_in.id, email=None, left_at=utcnow()))
    on_list(CreatorProfileFactory(), "x@example.org")
    response = web.client.get(f"{STUDIO}.csv")
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["email", "joined_at", "last_written_at"]
    assert [row[0] for row in rows[1:]] == ["ann@example.org", "'=cmd@example.org"]


def test_a_learner_or_a_visitor_cant_open_the_studio_list(client, web, therapist):
    assert client.get(STUDIO).status_code == 302
    assert client.get(f"{STUDIO}.csv").status_code == 302


# ---------------------------------------------------------------------------
# Referral partners
# ---------------------------------------------------------------------------


def partners(profile) -> list[tuple[str, int]]:
    return [
        (p.name, p.position)
        for p in db.session.scalars(
            sa.select(ReferralPartner)
            .where(ReferralPartner.creator_id == profile.id)
            .order_by(ReferralPartner.position, ReferralPartner.id)
        )
    ]


def test_adding_ordering_changing_and_removing_colleagues(web, client, signed_in):
    web.submit(
        f"{STUDIO}/partners",
        {"name": "Rosa Delgado", "credentials": "LMFT", "specialties": "Couples", "url": "https://example.com/rosa"},
        form_url=STUDIO,
    )
    assert [name for name, _ in partners(signed_in)] == ["Dr. Sam Lee", "Rosa Delgado"]
    rosa = db.session.scalar(sa.select(ReferralPartner).filter_by(name="Rosa Delgado"))
    web.submit(f"{STUDIO}/partners/{rosa.id}/move", {"direction": "up"}, form_url=STUDIO)
    assert [name for name, _ in partners(signed_in)] == ["Rosa Delgado", "Dr. Sam Lee"]

    url = f"{STUDIO}/partners/{rosa.id}"
    web.submit(url, {"name": "Rosa Delgado", "credentials": "LMFT", "specialties": "Couples, families", "url": ""})
    db.session.expire_all()
    assert (rosa.specialties, rosa.url) == ("Couples, families", "")
    public = text_of(client.application.test_client().get("/t/maya/waitlist").get_data(as_text=True))
    assert public.index("Rosa Delgado, LMFT") < public.index("Dr. Sam Lee, PsyD")

    web.submit(f"{STUDIO}/partners/{rosa.id}/remove", {}, form_url=STUDIO)
    assert [name for name, _ in partners(signed_in)] == ["Dr. Sam Lee"]


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "//evil.example", "https://", "http://a b"],
)
def test_a_colleagues_link_must_be_a_web_address(web, signed_in, url):
    response = web.submit(f"{STUDIO}/partners", {"name": "Mallory", "url": url}, form_url=STUDIO)
    assert response.status_code == 400
    assert "Enter a web address starting with https://" in text_of(response.get_data(as_text=True))
    assert [name for name, _ in partners(signed_in)] == ["Dr. Sam Lee"]


def test_at_most_twenty_colleagues(web, signed_in):
    for n in range(19):
        db.session.add(ReferralPartner(creator_id=signed_in.id, name=f"Colleague {n}", position=n + 2))
    db.session.flush()
    response = web.submit(f"{STUDIO}/partners", {"name": "One too many"}, form_url=STUDIO)
    assert response.status_code == 400
    assert "You can list up to 20 colleagues" in text_of(response.get_data(as_text=True))
    assert len(partners(signed_in)) == 20


def test_another_therapists_colleague_is_not_found(web, signed_in):
    theirs = ReferralPartner(creator_id=CreatorProfileFactory().id, name="Not yours")
    db.session.add(theirs)
    db.session.flush()
    assert web.client.get(f"{STUDIO}/partners/{theirs.id}").status_code == 404
    response = web.submit(f"{STUDIO}/partners/{theirs.id}/remove", {}, form_url=STUDIO, follow_redirects=False)
    assert response.status_code == 404
    assert db.session.get(ReferralPartner, theirs.id) is not None


def test_a_killed_worker_writes_to_nobody_twice_and_skips_nobody(app, signed_in, mailbox):
    """The job writes everyone's e-mail and marks them in one transaction: a worker killed before its commit
    leaves nothing, and the worker that takes the job over writes to each person once."""
    from courseplatform.jobs import run_job
    from courseplatform.models import OutgoingMail
    from courseplatform.practice import start_mailing

    on_list(signed_in, "ann@example.org", "bo@example.org", "cy@example.org")
    with app.test_request_context():
        start_mailing(signed_in, "A place opened", "Hi", None, "3" * 32)
    db.session.commit()
    job = db.session.scalar(sa.select(Job).where(Job.kind == "practice_waitlist.mail"))
    job.status, job.attempts, job.lease_until = JobStatus.RUNNING, 1, utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(OutgoingMail.id))) == 0

    assert run_job(job.id).status is JobStatus.DONE
    assert sorted(m["To"] for m in mailbox.messages) == ["ann@example.org", "bo@example.org", "cy@example.org"]
    assert run_job(job.id).status is None, "a finished job isn't run again"
    assert len(mailbox.messages) == 3
