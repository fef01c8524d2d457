"""`flask send-reminders`: every active learner hears about a live session once, a day ahead, in their own
time zone; a moved session is announced again; two runs at once still send each reminder once."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.integrations.mail import deliver_committed
from courseplatform.learning.reminders import send_reminders
from courseplatform.models import LiveSession, utcnow

from ..factories import PASSWORD, CreatorProfileFactory
from ..factories.live import JOIN_URL, learner, session_in, workshop
from ..helpers import committed_application


def recipients(mailbox) -> list[str]:
    return sorted(message["To"] for message in mailbox.messages)


def body_to(mailbox, email: str) -> str:
    (message,) = [m for m in mailbox.messages if m["To"] == email]
    return message.get_body(preferencelist=("plain",)).get_content()


def test_each_active_learner_is_reminded_once(runner, mailbox):
    offering = workshop()
    session, _lesson = session_in(offering, minutes_from_now=3 * 60)
    ana, ben = learner(offering, email="ana@example.org"), learner(offering, email="ben@example.org")
    learner(offering, email="gone@example.org", revoked=True)

    result = runner.invoke(args=["send-reminders"])
    assert result.exit_code == 0, result.output
    assert "Sent 2 reminders for 1 session." in result.output
    assert recipients(mailbox) == [ana.email, ben.email]
    assert session.reminder_sent_at is not None

    again = runner.invoke(args=["send-reminders"])
    assert "Sent 0 reminders for 0 sessions." in again.output
    assert len(mailbox.messages) == 2


@pytest.mark.parametrize("minutes_from_now", [25 * 60, -5])
def test_no_reminder_for_sessions_more_than_a_day_away_or_already_started(runner, mailbox, minutes_from_now):
    offering = workshop()
    session_in(offering, minutes_from_now=minutes_from_now)
    learner(offering)

    assert "Sent 0 reminders for 0 sessions." in runner.invoke(args=["send-reminders"]).output
    assert mailbox.messages == []


def test_the_reminder_shows_the_learners_own_time_and_the_links(runner, mailbox):
    offering = workshop(title="Couples in Crisis")
    start = (utcnow() + timedelta(hours=5)).replace(minute=30, second=0, microsecond=0)
    session, lesson = session_in(offering, starts_at=start, title="Evening 1", duration_minutes=120)
    learner(offering, email="berlin@example.org", time_zone="Europe/Berlin")
    learner(offering, email="la@example.org", time_zone="America/Los_Angeles")

    runner.invoke(args=["send-reminders"])

    for email, zone in (("berlin@example.org", "Europe/Berlin"), ("la@example.org", "America/Los_Angeles")):
        local = start.astimezone(ZoneInfo(zone))
        body = body_to(mailbox, email)
        assert f"{local:%A, %B %-d · %-I:%M %p %Z} (120 min)" in body
        assert f"http://aqueduct.test/learn/{offering.slug}/lessons/{lesson.id}" in body
        assert f"http://aqueduct.test/learn/{offering.slug}/sessions/{session.id}.ics" in body
        assert "the join link appears there 15 minutes before the start" in body
        assert JOIN_URL not in body, "the meeting link is only given out in its window"
    (subject,) = {str(m["Subject"]).strip() for m in mailbox.messages if m["To"] == "berlin@example.org"}
    assert subject.startswith("Reminder: Couples in Crisis meets ")
    assert f"{start.astimezone(ZoneInfo('Europe/Berlin')):%-I:%M %p %Z}" in subject


def test_a_session_about_to_start_says_the_join_link_is_open(runner, mailbox):
    offering = workshop()
    session_in(offering, minutes_from_now=10)
    learner(offering)
    runner.invoke(args=["send-reminders"])
    assert "The join link is open now on the session page:" in mailbox.last_body()


def test_a_moved_session_is_announced_again(web, runner, mailbox):
    profile = CreatorProfileFactory(user__email="maya@example.org", user__time_zone="America/New_York")
    offering = workshop(creator=profile)
    session, _lesson = session_in(offering, minutes_from_now=4 * 60)
    learner(offering, email="ana@example.org")
    runner.invoke(args=["send-reminders"])
    assert len(mailbox.messages) == 1

    web.login("maya@example.org", PASSWORD)
    moved = (session.starts_at + timedelta(hours=2)).astimezone(ZoneInfo("America/New_York"))
    response = web.submit(
        f"/studio/courses/{offering.id}/sessions/{session.id}/edit",
        {"title": "Evening 1", "starts_at": f"{moved:%Y-%m-%dT%H:%M}", "duration_minutes": "90", "join_url": JOIN_URL},
    )
    assert "Session saved." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(LiveSession, session.id).reminder_sent_at is None

    assert "Sent 1 reminder for 1 session." in runner.invoke(args=["send-reminders"]).output
    assert len(mailbox.messages) == 2
    assert f"{moved:%-I:%M %p %Z}" in mailbox.last_body()


def test_renaming_a_session_does_not_send_it_again(web, runner, mailbox):
    profile = CreatorProfileFactory(user__email="maya@example.org", user__time_zone="America/New_York")
    offering = workshop(creator=profile)
    session, _lesson = session_in(offering, starts_at=(utcnow() + timedelta(hours=4)).replace(second=0, microsecond=0))
    learner(offering)
    runner.invoke(args=["send-reminders"])

    web.login("maya@example.org", PASSWORD)
    same = session.starts_at.astimezone(ZoneInfo("America/New_York"))
    web.submit(
        f"/studio/courses/{offering.id}/sessions/{session.id}/edit",
        {"title": "Evening 1, renamed", "starts_at": f"{same:%Y-%m-%dT%H:%M}", "duration_minutes": "90"},
    )
    assert "Sent 0 reminders for 0 sessions." in runner.invoke(args=["send-reminders"]).output
    assert len(mailbox.messages) == 1


# ---------------------------------------------------------------------------
# Two runs at the same moment, with real commits on PostgreSQL


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory):
    """An application on its own PostgreSQL database whose transactions really commit."""
    with committed_application(tmp_path_factory, "reminders") as app:
        yield app


def test_two_runs_at_once_send_each_reminder_once(committed_app):
    app = committed_app
    with app.app_context():
        offering = workshop()
        session_in(offering, minutes_from_now=2 * 60)
        session_in(offering, minutes_from_now=3 * 60)
        for _ in range(3):
            learner(offering)
        db.session.commit()

    first_has_locked = threading.Event()
    second_done = threading.Event()
    runs = {}

    def first() -> None:
        with app.app_context():
            runs["first"] = send_reminders()
            first_has_locked.set()
            second_done.wait(timeout=10)  # hold the row locks while the second run looks
            db.session.commit()
            deliver_committed()

    def second() -> None:
        first_has_locked.wait(timeout=10)
        with app.app_context():
            runs["second"] = send_reminders()
            db.session.commit()
            deliver_committed()
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert (runs["first"].sessions, runs["first"].messages) == (2, 6)
    assert (runs["second"].sessions, runs["second"].messages) == (0, 0)
    assert len(list(Path(app.config["MAIL_DIR"]).glob("*.eml"))) == 6
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(LiveSession.reminder_sent_at.is_(None))) == 0
