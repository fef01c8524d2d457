"""Live workshops as a learner meets them: times in their own zone, the calendar file, the join link from
15 minutes before the start (and not before, not even hidden in the page), the replay, and nobody else
getting any of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from courseplatform.extensions import db
from courseplatform.learning.live import join_window
from courseplatform.learning.reminders import send_reminders
from courseplatform.models import MediaStatus, utcnow

from ..factories import CreatorProfileFactory, UserFactory
from ..factories.live import JOIN_URL, learner, session_in, sign_in, workshop
from ..factories.media import media_asset

FAR_AWAY = datetime(2040, 12, 5, 0, 0, tzinfo=UTC)  # Tuesday 7 PM in New York, Wednesday 1 AM in Berlin


def lesson_page(client, offering, lesson) -> str:
    response = client.get(f"/learn/{offering.slug}/lessons/{lesson.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def join_path(offering, session) -> str:
    return f"/learn/{offering.slug}/sessions/{session.id}/join"


def calendar_of(response) -> Calendar:
    return Calendar.from_ical(response.get_data())


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("America/New_York", "Tuesday, December 4 · 7:00 PM EST (90 min)"),
        ("Europe/Berlin", "Wednesday, December 5 · 1:00 AM CET (90 min)"),
    ],
)
def test_sessions_show_in_the_learners_own_time_zone(web, client, zone, shown):
    offering = workshop()
    _session, lesson = session_in(offering, starts_at=FAR_AWAY, title="Evening 1")
    sign_in(web, learner(offering, time_zone=zone))

    assert shown in lesson_page(client, offering, lesson)
    outline = client.get(f"/learn/{offering.slug}").get_data(as_text=True)
    assert shown in outline and "Evening 1" in outline


def test_join_link_is_nowhere_in_the_page_sixteen_minutes_before(web, client):
    offering = workshop()
    session, lesson = session_in(offering, minutes_from_now=16)
    sign_in(web, learner(offering))

    html = lesson_page(client, offering, lesson)
    assert JOIN_URL not in html and "meet.example.com" not in html
    assert join_path(offering, session) not in html
    opens = (session.starts_at - timedelta(minutes=15)).astimezone(ZoneInfo("America/New_York"))
    assert f"The join link appears here at {opens:%-I:%M %p %Z} (15 minutes before the start)." in html
    outline = client.get(f"/learn/{offering.slug}").get_data(as_text=True)
    assert JOIN_URL not in outline and join_path(offering, session) not in outline


def test_join_link_shows_fourteen_minutes_before_and_leads_to_the_meeting(web, client):
    offering = workshop()
    session, lesson = session_in(offering, minutes_from_now=14)
    sign_in(web, learner(offering))

    html = lesson_page(client, offering, lesson)
    assert "Join the session" in html and join_path(offering, session) in html
    assert JOIN_URL not in html, "the page links to the checked route, never to the meeting itself"
    assert "Join now" in client.get(f"/learn/{offering.slug}").get_data(as_text=True)

    response = client.get(join_path(offering, session))
    assert response.status_code == 302 and response.headers["Location"] == JOIN_URL


def test_join_route_turns_away_a_bookmarked_link_before_the_window(web, client):
    offering = workshop()
    session, lesson = session_in(offering, minutes_from_now=16)
    sign_in(web, learner(offering))

    response = client.get(join_path(offering, session))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/learn/{offering.slug}/lessons/{lesson.id}"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The join link opens on" in html and "(15 minutes before the start)" in html


def test_an_ended_session_says_so_and_opens_no_meeting(web, client):
    offering = workshop()
    session, lesson = session_in(offering, minutes_from_now=-120, duration_minutes=90)
    sign_in(web, learner(offering))

    html = lesson_page(client, offering, lesson)
    assert "This session has ended." in html
    assert join_path(offering, session) not in html and JOIN_URL not in html
    response = client.get(join_path(offering, session))
    assert response.headers["Location"] != JOIN_URL
    assert "This session has ended." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_join_window_follows_the_configured_minutes(app, web, client):
    offering = workshop()
    session, lesson = session_in(offering, minutes_from_now=25)
    sign_in(web, learner(offering))
    app.config["LIVE_JOIN_OPENS_MINUTES"] = 30
    try:
        assert join_path(offering, session) in lesson_page(client, offering, lesson)
        assert client.get(join_path(offering, session)).headers["Location"] == JOIN_URL
    finally:
        app.config["LIVE_JOIN_OPENS_MINUTES"] = 15


def test_a_session_without_a_link_yet_says_so_in_its_window(web, client):
    offering = workshop()
    session, lesson = session_in(offering, minutes_from_now=5, join_url="")
    sign_in(web, learner(offering))

    assert "The join link hasn't been added yet." in lesson_page(client, offering, lesson)
    assert client.get(join_path(offering, session)).headers["Location"].startswith(f"/learn/{offering.slug}")


def test_calendar_file_holds_the_session_in_utc_with_a_stable_uid(web, client):
    offering = workshop()
    session, lesson = session_in(offering, starts_at=FAR_AWAY, title="Evening 1", duration_minutes=120)
    sign_in(web, learner(offering))

    response = client.get(f"/learn/{offering.slug}/sessions/{session.id}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert JOIN_URL.encode() not in response.get_data()
    (event,) = calendar_of(response).walk("VEVENT")
    assert event.decoded("dtstart") == FAR_AWAY
    assert event.decoded("dtend") == FAR_AWAY + timedelta(minutes=120)
    assert str(event["uid"]) == f"live-session-{session.id}@aqueduct.test"
    assert str(event["summary"]) == "Couples in Crisis: Evening 1"
    assert f"http://aqueduct.test/learn/{offering.slug}/lessons/{lesson.id}" in str(event["description"])
    assert str(event["location"]) == f"http://aqueduct.test{join_path(offering, session)}"

    session.starts_at = FAR_AWAY + timedelta(days=1)  # moved: the same UID updates the calendar entry
    db.session.flush()
    (moved,) = calendar_of(client.get(f"/learn/{offering.slug}/sessions/{session.id}.ics")).walk("VEVENT")
    assert str(moved["uid"]) == str(event["uid"])
    assert moved.decoded("dtstart") == FAR_AWAY + timedelta(days=1)


def test_calendar_of_the_whole_workshop_lists_every_session(web, client):
    offering = workshop()
    first, _ = session_in(offering, starts_at=FAR_AWAY, title="Evening 1")
    second, _ = session_in(offering, starts_at=FAR_AWAY + timedelta(days=7), title="Evening 2", lesson=False)
    sign_in(web, learner(offering))

    assert "Add all to my calendar" in client.get(f"/learn/{offering.slug}").get_data(as_text=True)
    events = calendar_of(client.get(f"/learn/{offering.slug}/sessions.ics")).walk("VEVENT")
    assert {str(e["uid"]): e.decoded("dtstart") for e in events} == {
        f"live-session-{first.id}@aqueduct.test": FAR_AWAY,
        f"live-session-{second.id}@aqueduct.test": FAR_AWAY + timedelta(days=7),
    }
    (unlinked,) = [e for e in events if "Evening 2" in str(e["summary"])]
    assert f"http://aqueduct.test/learn/{offering.slug}\n" in str(unlinked["description"]) + "\n"


def test_the_replay_plays_once_the_creator_attaches_it(web, client):
    offering = workshop()
    session, lesson = session_in(offering, minutes_from_now=-600)
    sign_in(web, learner(offering))
    assert "Watch the replay" not in lesson_page(client, offering, lesson)
    assert client.get(f"/learn/{offering.slug}/sessions/{session.id}/replay").status_code == 404

    session.replay_asset_id = media_asset(offering.creator.user, "evening-1.mp4").id
    db.session.flush()
    html = lesson_page(client, offering, lesson)
    assert "Watch the replay" in html
    assert f'src="/learn/{offering.slug}/sessions/{session.id}/replay"' in html
    response = client.get(f"/learn/{offering.slug}/sessions/{session.id}/replay")
    assert response.status_code == 302 and response.headers["Location"].startswith("/media/")
    assert response.headers["Cache-Control"] == "private, no-store"


def test_a_replay_that_is_not_ready_is_not_served(web, client):
    offering = workshop()
    session, _lesson = session_in(offering, minutes_from_now=-600)
    session.replay_asset_id = media_asset(offering.creator.user, "evening.mp4", status=MediaStatus.PENDING).id
    sign_in(web, learner(offering))
    assert client.get(f"/learn/{offering.slug}/sessions/{session.id}/replay").status_code == 404


def _protected(offering, session) -> list[str]:
    base = f"/learn/{offering.slug}/sessions"
    return [f"{base}/{session.id}/join", f"{base}/{session.id}.ics", f"{base}.ics", f"{base}/{session.id}/replay"]


@pytest.mark.parametrize("who", ["revoked learner", "someone else"])
def test_only_enrolled_learners_get_the_join_link_calendar_and_replay(web, client, who):
    offering = workshop()
    session, _lesson = session_in(offering, minutes_from_now=5)
    session.replay_asset_id = media_asset(offering.creator.user).id
    user = learner(offering, revoked=True) if who == "revoked learner" else UserFactory()
    sign_in(web, user)
    for url in _protected(offering, session):
        response = client.get(url)
        assert response.status_code == 403, url
        assert JOIN_URL not in response.get_data(as_text=True)


def test_signed_out_visitors_are_asked_to_log_in(client):
    offering = workshop()
    session, _lesson = session_in(offering, minutes_from_now=5)
    for url in _protected(offering, session):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_a_session_of_another_offering_is_not_found(web, client):
    offering, other = workshop(), workshop()
    stranger_session, _ = session_in(other, minutes_from_now=5)
    sign_in(web, learner(offering))
    assert client.get(f"/learn/{offering.slug}/sessions/{stranger_session.id}/join").status_code == 404
    assert client.get(f"/learn/{offering.slug}/sessions/{stranger_session.id}.ics").status_code == 404


def test_the_owner_previews_and_may_open_the_meeting_any_time(web, client):
    profile = CreatorProfileFactory()
    offering = workshop(creator=profile)
    session, lesson = session_in(offering, minutes_from_now=3 * 24 * 60)
    sign_in(web, profile.user)

    html = lesson_page(client, offering, lesson)
    assert "The join link appears here at" in html, "the owner sees what learners see"
    assert client.get(join_path(offering, session)).headers["Location"] == JOIN_URL
    assert client.get(f"/learn/{offering.slug}/sessions/{session.id}.ics").status_code == 200


def test_join_window_edges_in_the_service(app):
    offering = workshop()
    start = utcnow() + timedelta(days=2)
    session, _ = session_in(offering, starts_at=start, duration_minutes=60, lesson=False)
    with app.test_request_context():
        assert not join_window(session, start - timedelta(minutes=15, seconds=1)).can_join
        assert join_window(session, start - timedelta(minutes=15)).can_join
        assert join_window(session, start + timedelta(minutes=59, seconds=59)).can_join
        after = join_window(session, start + timedelta(minutes=60))
        assert after.is_over and not after.can_join


def test_a_session_stored_in_year_9999_leaves_every_learner_page_working(web, client):
    """Forms refuse such dates now; one stored before they did is shown (in UTC if need be), never a 500."""
    offering = workshop()
    far = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    session, lesson = session_in(offering, starts_at=far, duration_minutes=720)
    auckland = learner(offering, time_zone="Pacific/Auckland")
    db.session.commit()
    sign_in(web, auckland)

    for url in (
        f"/courses/{offering.slug}",
        f"/learn/{offering.slug}",
        f"/learn/{offering.slug}/lessons/{lesson.id}",
        f"/learn/{offering.slug}/sessions.ics",
        f"/learn/{offering.slug}/sessions/{session.id}.ics",
        join_path(offering, session),
        "/learn",
    ):
        response = client.get(url)
        assert response.status_code in (200, 302), (url, response.status_code)
    calendar = calendar_of(client.get(f"/learn/{offering.slug}/sessions/{session.id}.ics"))
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == far
    # The reminder run passes it by (it isn't due) and sends the ones that are.
    session_in(offering, minutes_from_now=60)
    assert send_reminders().messages == 1
