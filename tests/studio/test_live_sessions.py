"""A creator schedules a live workshop's sessions in their own time zone; they are stored in UTC."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from courseplatform.extensions import db
from courseplatform.models import LiveSession, MediaStatus, OfferingKind, utcnow

from ..factories import PASSWORD, CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory, UserFactory
from ..factories.media import media_asset

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def workshop(web):
    profile = CreatorProfileFactory(user__email="maya@example.org", user__time_zone="America/New_York")
    web.login("maya@example.org", PASSWORD)
    return OfferingFactory(creator=profile, kind=OfferingKind.LIVE_WORKSHOP, title="Couples in Crisis")


def sessions_url(offering) -> str:
    return f"/studio/courses/{offering.id}/sessions"


def session_data(starts: str, **changes) -> dict:
    data = {
        "title": "Evening 1",
        "starts_at": starts,
        "duration_minutes": "120",
        "capacity": "30",
        "join_url": "https://meet.example.com/room",
    }
    data.update(changes)
    return data


def next_year() -> int:
    return utcnow().year + 1


def nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def stored(offering) -> list[LiveSession]:
    db.session.expire_all()
    return db.session.scalars(
        db.select(LiveSession).filter_by(offering_id=offering.id).order_by(LiveSession.starts_at)
    ).all()


def test_empty_sessions_page_explains_what_to_do(client, workshop):
    html = client.get(sessions_url(workshop)).get_data(as_text=True)
    assert "No upcoming sessions" in html
    assert "America/New York" in html and 'type="datetime-local"' in html


@pytest.mark.parametrize(("month", "utc_day_shift", "utc_hour"), [(1, 1, 0), (7, 0, 23)])
def test_seven_pm_in_new_york_is_stored_in_utc_winter_and_summer(web, client, workshop, month, utc_day_shift, utc_hour):
    year = next_year()
    response = web.submit(sessions_url(workshop), session_data(f"{year}-{month:02d}-15T19:00"))
    assert "Session scheduled." in response.get_data(as_text=True)
    (session,) = stored(workshop)
    assert session.starts_at == datetime(year, month, 15 + utc_day_shift, utc_hour, 0, tzinfo=UTC)
    assert session.time_zone == "America/New_York"
    assert (session.title, session.duration_minutes, session.capacity) == ("Evening 1", 120, 30)
    assert session.join_url == "https://meet.example.com/room"

    html = client.get(sessions_url(workshop)).get_data(as_text=True)
    assert "7:00 PM" in html, "shown back in the creator's zone"
    edit = client.get(f"{sessions_url(workshop)}/{session.id}/edit").get_data(as_text=True)
    assert f'value="{year}-{month:02d}-15T19:00"' in edit


def test_a_start_time_in_the_past_is_refused(web, workshop):
    yesterday = (utcnow().astimezone(NEW_YORK) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    html = web.submit(sessions_url(workshop), session_data(yesterday)).get_data(as_text=True)
    assert "That time has already passed." in html
    assert stored(workshop) == []


def test_capacity_zero_and_other_bad_input_are_refused_with_clear_messages(web, workshop):
    starts = f"{next_year()}-02-10T18:30"
    cases = [
        ({"capacity": "0"}, "Seats must be at least 1. Leave it blank for unlimited."),
        ({"duration_minutes": "0"}, "Enter a length from 1 to 720 minutes."),
        ({"join_url": "javascript:alert(1)"}, "Enter a web address starting with https://"),
        ({"join_url": "ftp://files.example.com"}, "Enter a web address starting with https://"),
        ({"starts_at": ""}, "Choose the date and time it starts."),
        ({"starts_at": "next tuesday"}, "Enter a date and time such as"),
    ]
    for change, message in cases:
        html = web.submit(sessions_url(workshop), session_data(starts, **change)).get_data(as_text=True)
        assert message in html, change
    assert stored(workshop) == []


def test_blank_capacity_means_unlimited(web, client, workshop):
    web.submit(sessions_url(workshop), session_data(f"{next_year()}-02-10T18:30", capacity="", join_url=""))
    (session,) = stored(workshop)
    assert session.capacity is None and session.join_url == ""
    assert "Unlimited seats" in client.get(sessions_url(workshop)).get_data(as_text=True)


def test_a_time_skipped_by_the_spring_forward_is_refused(web, workshop):
    gap_day = nth_sunday(next_year(), 3, 2)  # US clocks jump from 2:00 to 3:00
    html = web.submit(sessions_url(workshop), session_data(f"{gap_day}T02:30")).get_data(as_text=True)
    assert "doesn&#39;t exist in America/New York" in html
    assert stored(workshop) == []


def test_a_time_repeated_by_the_fall_back_means_the_first_one(web, workshop):
    overlap_day = nth_sunday(next_year(), 11, 1)  # 1:00 to 2:00 happens twice
    web.submit(sessions_url(workshop), session_data(f"{overlap_day}T01:30"))
    (session,) = stored(workshop)
    assert session.starts_at == datetime.combine(overlap_day, datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=5, minutes=30
    ), "01:30 EDT (UTC-4) comes before 01:30 EST"


def test_editing_and_deleting_a_session(web, client, workshop):
    year = next_year()
    web.submit(sessions_url(workshop), session_data(f"{year}-01-15T19:00"))
    (session,) = stored(workshop)
    section = SectionFactory(offering=workshop)
    lesson = LessonFactory(section=section, live_session=session)
    edit_url = f"{sessions_url(workshop)}/{session.id}/edit"

    html = web.submit(edit_url, session_data(f"{year}-01-15T19:00", capacity="0")).get_data(as_text=True)
    assert "Seats must be at least 1" in html
    assert stored(workshop)[0].capacity == 30

    web.submit(edit_url, session_data(f"{year}-01-16T20:15", title="Evening 1, moved", capacity="12"))
    (session,) = stored(workshop)
    assert session.starts_at == datetime(year, 1, 17, 1, 15, tzinfo=UTC)
    assert (session.title, session.capacity) == ("Evening 1, moved", 12)

    response = web.submit(f"{sessions_url(workshop)}/{session.id}/delete", {}, form_url=sessions_url(workshop))
    assert "Session deleted." in response.get_data(as_text=True)
    assert stored(workshop) == []
    db.session.refresh(lesson)
    assert lesson.live_session_id is None


def test_a_past_session_can_be_renamed_without_moving_it(web, client, workshop):
    past = LiveSession(
        offering=workshop, starts_at=utcnow() - timedelta(days=3), time_zone="America/New_York", title="Old"
    )
    db.session.add(past)
    db.session.flush()
    html = client.get(sessions_url(workshop)).get_data(as_text=True)
    assert "Past" in html and "Old" in html
    form = client.get(f"{sessions_url(workshop)}/{past.id}/edit").get_data(as_text=True)
    value = form.split('name="starts_at"')[1].split('value="')[1].split('"')[0]
    web.submit(f"{sessions_url(workshop)}/{past.id}/edit", session_data(value, title="Old, renamed"))
    assert stored(workshop)[0].title == "Old, renamed"


def test_an_admin_sees_times_in_the_creators_zone(web, client, workshop):
    session = LiveSession(
        offering=workshop, starts_at=datetime(next_year(), 1, 16, 0, 0, tzinfo=UTC), time_zone="America/New_York"
    )
    db.session.add(session)
    db.session.flush()
    web.logout()
    UserFactory(email="ops@example.org", is_admin=True, time_zone="Asia/Tokyo")
    web.login("ops@example.org", PASSWORD)
    html = client.get(sessions_url(workshop)).get_data(as_text=True)
    assert "7:00 PM" in html and "the creator’s time zone" in html


def test_another_offerings_session_is_not_found(client, workshop):
    stranger = LiveSession(
        offering=OfferingFactory(kind=OfferingKind.LIVE_WORKSHOP),
        starts_at=utcnow() + timedelta(days=2),
        time_zone="UTC",
    )
    db.session.add(stranger)
    db.session.flush()
    assert client.get(f"{sessions_url(workshop)}/{stranger.id}/edit").status_code == 404


def test_a_new_date_tells_the_waitlist_once(web, mailbox):
    from courseplatform.models import OfferingStatus, WaitlistEntry

    creator = CreatorProfileFactory(user__email="live@example.org", user__time_zone="UTC")
    offering = OfferingFactory(creator=creator, kind=OfferingKind.LIVE_WORKSHOP, status=OfferingStatus.PUBLISHED)
    db.session.add(WaitlistEntry(offering_id=offering.id, email="waiting@example.org"))
    db.session.flush()
    web.login("live@example.org", PASSWORD)
    url = f"/studio/courses/{offering.id}/sessions"
    data = {
        "title": "Evening",
        "starts_at": (utcnow() + timedelta(days=9)).strftime("%Y-%m-%dT19:00"),
        "duration_minutes": "90",
        "capacity": "20",
        "join_url": "",
    }
    html = web.submit(url, data).get_data(as_text=True)
    assert "1 person on the waitlist is being e-mailed (see Waitlist)." in html
    assert [m["To"] for m in mailbox.messages] == ["waiting@example.org"]
    web.submit(url, {**data, "starts_at": (utcnow() + timedelta(days=16)).strftime("%Y-%m-%dT19:00")})
    assert len(mailbox.messages) == 1


# ---------------------------------------------------------------------------
# Replays


def _past_session(offering) -> LiveSession:
    session = LiveSession(
        offering=offering, title="Evening 1", starts_at=utcnow() - timedelta(days=2), time_zone="America/New_York"
    )
    db.session.add(session)
    db.session.flush()
    return session


def test_a_replay_is_chosen_from_the_creators_own_ready_recordings(web, client, workshop):
    session = _past_session(workshop)
    owner = workshop.creator.user
    video = media_asset(owner, "evening-1.mp4")
    audio = media_asset(owner, "evening-1.mp3", "audio/mpeg")
    media_asset(owner, "handout.pdf", "application/pdf")
    media_asset(owner, "still-uploading.mp4", status=MediaStatus.PENDING)
    theirs = media_asset(CreatorProfileFactory().user, "not-yours.mp4")
    url = f"{sessions_url(workshop)}/{session.id}/replay"

    html = client.get(url).get_data(as_text=True)
    assert "evening-1.mp4" in html and "evening-1.mp3" in html
    for absent in ("handout.pdf", "still-uploading.mp4", "not-yours.mp4"):
        assert absent not in html, absent

    html = web.submit(url, {"asset": str(video.id)}).get_data(as_text=True)
    assert "Replay saved: learners can now watch “evening-1.mp4”." in html
    assert "Replay: evening-1.mp4" in html
    assert stored(workshop)[0].replay_asset_id == video.id

    html = web.submit(url, {"asset": str(theirs.id)}).get_data(as_text=True)
    assert "That upload can&#39;t be found any more." in html
    assert stored(workshop)[0].replay_asset_id == video.id, "someone else's file is refused"

    web.submit(url, {"asset": str(audio.id)})
    assert stored(workshop)[0].replay_asset_id == audio.id
    assert "Replay removed." in web.submit(url, {"asset": ""}).get_data(as_text=True)
    assert stored(workshop)[0].replay_asset_id is None


def test_a_recording_uploaded_with_the_replay_form_becomes_the_replay(web, workshop):
    session = _past_session(workshop)
    url = f"{sessions_url(workshop)}/{session.id}/replay"
    mp4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200
    html = web.submit(url, {"asset": "", "recording": (io.BytesIO(mp4), "evening-1.mp4")}).get_data(as_text=True)
    assert "Replay saved: learners can now watch “evening-1.mp4”." in html
    assert stored(workshop)[0].replay_asset_id is not None

    html = web.submit(url, {"recording": (io.BytesIO(b"%PDF-1.7 handout"), "notes.pdf")}).get_data(as_text=True)
    assert "isn&#39;t an MP3 or M4A audio file or an MP4, MOV or WebM video" in html


def test_other_creators_cannot_attach_replays(web, client, workshop):
    session = _past_session(workshop)
    web.logout()
    CreatorProfileFactory(user__email="other@example.org")
    web.login("other@example.org", PASSWORD)
    assert client.get(f"{sessions_url(workshop)}/{session.id}/replay").status_code == 404


@pytest.mark.parametrize("field", ["asset", "recording_asset_id"])
@pytest.mark.parametrize("tampered", ["\u00b2", "\u0661", "not-a-number", "9" * 19, "2147483648"])
def test_a_tampered_replay_id_is_refused_and_the_replay_stays(web, workshop, field, tampered):
    session = _past_session(workshop)
    video = media_asset(workshop.creator.user, "evening-1.mp4")
    url = f"{sessions_url(workshop)}/{session.id}/replay"
    web.submit(url, {"asset": str(video.id)})

    response = web.submit(url, {"asset": "", field: tampered})
    assert response.status_code == 200
    assert "That upload can&#39;t be found any more. Please choose the file again." in response.get_data(as_text=True)
    assert stored(workshop)[0].replay_asset_id == video.id


# ---------------------------------------------------------------------------
# Far dates: refused at the form; one stored before that must not take the studio down


@pytest.mark.parametrize("starts", ["9999-12-31T23:59", "2101-01-01T19:00", "1999-12-31T19:00", "0001-01-01T00:00"])
def test_a_session_outside_the_years_2000_to_2100_is_refused_at_the_form(web, workshop, starts):
    response = web.submit(sessions_url(workshop), session_data(starts))

    assert response.status_code == 200
    assert "Enter a date between 2000 and 2100." in response.get_data(as_text=True)
    assert stored(workshop) == []


def test_a_session_stored_in_year_9999_leaves_the_creators_pages_working(web, client):
    profile = CreatorProfileFactory(user__email="tane@example.org", user__time_zone="Pacific/Auckland")
    offering = OfferingFactory(creator=profile, kind=OfferingKind.LIVE_WORKSHOP, title="Far away")
    far = LiveSession(
        offering=offering, starts_at=datetime(9999, 12, 31, 23, 0, tzinfo=UTC), time_zone="UTC", duration_minutes=720
    )
    db.session.add(far)
    LessonFactory(section=SectionFactory(offering=offering), kind="live", live_session=far)
    db.session.commit()
    web.login("tane@example.org", PASSWORD)

    pages = [
        sessions_url(offering),
        f"{sessions_url(offering)}/{far.id}/edit",
        f"{sessions_url(offering)}/{far.id}/replay",
        f"{sessions_url(offering)}/{far.id}/attendance",
        f"/studio/courses/{offering.id}/curriculum",
        f"/studio/courses/{offering.id}",
        "/studio",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
    editor = client.get(f"{sessions_url(offering)}/{far.id}/edit").get_data(as_text=True)
    assert 'value="9999-12-31T23:00"' in editor, "too far to move to Auckland time: shown in UTC, to be corrected"
    saved = web.submit(f"{sessions_url(offering)}/{far.id}/edit", session_data("9999-12-31T23:00"))
    assert "Enter a date between 2000 and 2100." in saved.get_data(as_text=True)
    web.submit(f"{sessions_url(offering)}/{far.id}/edit", session_data(f"{next_year()}-03-02T19:00"))
    assert stored(offering)[0].starts_at.year == next_year()
