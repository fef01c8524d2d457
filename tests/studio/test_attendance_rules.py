"""Live attendance rules for CE: a late-arrival and early-departure allowance judged on a real Zoom
participants export's join and leave rows (and on Google Meet's attendance CSV), check-in codes shown
during the session, and the certificate's attendance counted under both."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.learning.live import CheckInRefused, check_in, checked_in
from courseplatform.learning.progress import attendance_summary
from courseplatform.models import Attendance, Enrollment, LiveCheckIn, utcnow
from courseplatform.studio.live.services import import_report, parse_moment, read_report, save_attendance

from ..factories import PASSWORD, CreatorProfileFactory
from ..factories.live import learner, session_in, workshop
from ..helpers import csrf_token_from
from .test_attendance import page_url, text_of, upload

EXPORTS = Path(__file__).parent / "exports"
# 6:00 PM in Chicago on March 10, 2026 (daylight time, UTC-5).
EVENING = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
NAMES = ("ana", "ben", "cara", "dev", "eve", "finn")


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org", user__time_zone="America/Chicago")
    web.login("maya@example.org", PASSWORD)
    return profile


@pytest.fixture
def offering(creator):
    return workshop(creator=creator, min_attendance_percent=100, attendance_grace_minutes=15)


@pytest.fixture
def evening(offering):
    session, _lesson = session_in(
        offering, starts_at=EVENING, duration_minutes=120, zone="America/Chicago", title="Evening 1"
    )
    return session


@pytest.fixture
def learners(offering):
    return {name: learner(offering, email=f"{name}@example.org") for name in NAMES}


def enrollment_of(offering, user) -> Enrollment:
    return db.session.scalar(sa.select(Enrollment).filter_by(offering_id=offering.id, user_id=user.id))


def records(session) -> dict[str, Attendance]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Attendance).where(Attendance.live_session_id == session.id))
    return {row.enrollment.user.email.split("@")[0]: row for row in rows}


def credited(offering, learners) -> dict[str, int]:
    db.session.expire_all()
    return {name: attendance_summary(enrollment_of(offering, user)).attended_minutes for name, user in learners.items()}


def zoom_export() -> bytes:
    return (EXPORTS / "zoom_participants.csv").read_bytes()


def test_zoom_join_and_leave_rows_make_the_sign_in_sheet(offering, evening, learners):
    report = read_report(zoom_export(), session=evening)
    assert (report.joined_column, report.left_column) == ("Join Time", "Leave Time")
    import_report(offering, evening, report)

    got = {
        name: (r.minutes_attended, r.late_minutes, r.early_minutes, r.away_minutes)
        for name, r in records(evening).items()
    }
    assert got == {
        # joined 5:58:12, left 8:01:02: 122 min 50 s in the meeting, nothing missed
        "ana": (123, 0, 0, 0),
        # joined 6:22:40 (22 min 40 s late), left 8:00:10: 97 min 30 s
        "ben": (98, 23, 0, 0),
        # left at 7:40, 20 minutes before the end
        "cara": (101, 0, 20, 0),
        # 6:00:30–6:40 and 6:48–8:00: 39.5 + 72 = 111.5 min; 30 s late, away 8 min
        "dev": (112, 1, 0, 8),
        # a laptop 6:05–7:59 and a phone 6:30–7:30 inside it: 114 min, not 174
        "eve": (114, 5, 1, 0),
        # 6:00–6:30 and 7:00–8:00: away half an hour
        "finn": (90, 0, 0, 30),
    }
    # The sign-in sheet keeps every join and leave, in UTC.
    assert records(evening)["dev"].intervals == [
        ["2026-03-10T23:00:30+00:00", "2026-03-10T23:40:00+00:00"],
        ["2026-03-10T23:48:00+00:00", "2026-03-11T01:00:00+00:00"],
    ]
    # 15 minutes allowed: Ben (23 late), Cara (20 early) and Finn (30 away) get nothing for the session.
    assert credited(offering, learners) == {"ana": 120, "ben": 0, "cara": 0, "dev": 120, "eve": 120, "finn": 0}
    # Full attendance is required (100 %): only those three fall short of the certificate.
    short = {name for name, user in learners.items() if not attendance_summary(enrollment_of(offering, user)).is_enough}
    assert short == {"ben", "cara", "finn"}


def test_without_an_allowance_the_minutes_count_up_to_the_sessions_length(offering, evening, learners):
    offering.attendance_grace_minutes = None
    import_report(offering, evening, read_report(zoom_export(), session=evening))
    assert credited(offering, learners) == {"ana": 120, "ben": 98, "cara": 101, "dev": 112, "eve": 114, "finn": 90}


def test_the_attendance_page_says_why_a_session_earns_nothing(client, web, offering, evening, learners):
    text = text_of(upload(web, offering, evening, zoom_export(), name="participants_81234567890.csv"))
    assert "with join and leave times from “Join Time” and “Leave Time”" in text
    assert "Line 12 Call-in user 1: No e-mail address" in text
    assert "Line 2 maya@example.org" in text  # the host isn't a learner
    page = text_of(client.get(page_url(offering, evening)))
    assert "No credit: joined 23 min late (15 min allowed)" in page
    assert "No credit: left 20 min early (15 min allowed)" in page
    assert "No credit: away 30 min in between (15 min allowed)" in page
    assert "A session counts whole for a learner who joined at most 15 min late" in page

    record = client.get(f"/studio/courses/{offering.id}/learners/{enrollment_of(offering, learners['ben']).id}")
    assert "No credit: joined 23 min late (15 min allowed)" in text_of(record)


def test_google_meets_attendance_csv_with_clock_times(offering, evening, learners):
    meet = (
        b"First name,Last name,Email,Duration,Time joined,Time exited\n"
        b"Ana,Ortiz,ana@example.org,2 hr 1 min,5:59 PM,8:00 PM\n"
        b"Ben,Halloran,ben@example.org,1 hr 35 min,6:25 PM,8:00 PM\n"
        b"Cara,Nwosu,cara@example.org,1 hr 50 min,6:05 PM,7:55 PM\n"
    )
    report = read_report(meet, session=evening)
    assert (report.joined_column, report.left_column) == ("Time joined", "Time exited")
    import_report(offering, evening, report)
    got = {name: (r.minutes_attended, r.late_minutes, r.early_minutes) for name, r in records(evening).items()}
    assert got == {"ana": (121, 0, 0), "ben": (95, 25, 0), "cara": (110, 5, 5)}
    assert credited(offering, {k: learners[k] for k in ("ana", "ben", "cara")}) == {"ana": 120, "ben": 0, "cara": 120}


def test_a_session_past_midnight_reads_clock_times_on_the_next_day(offering, learners):
    late_night, _ = session_in(
        offering, starts_at=datetime(2026, 3, 11, 4, 30, tzinfo=UTC), duration_minutes=90, zone="America/Chicago"
    )  # 11:30 PM to 1:00 AM in Chicago
    assert parse_moment("11:31 PM", late_night) == datetime(2026, 3, 11, 4, 31, tzinfo=UTC)
    assert parse_moment("12:58 AM", late_night) == datetime(2026, 3, 11, 5, 58, tzinfo=UTC)


@pytest.mark.parametrize(
    "cell",
    [
        "03/10/2027 06:00:00 PM",
        "not a time",
        "99:99",
        "06:00 PM x",
        "03/10/2026 06:00:00 PM" + " " * 50 + "x",
        "9" * 400,
    ],
)
def test_times_that_arent_this_sessions_fall_back_to_the_duration(offering, evening, learners, cell):
    assert parse_moment(cell, evening) is None
    assert parse_moment(cell + "\x00", evening) is None
    report = read_report(
        (
            "Name,User Email,Join Time,Leave Time,Duration (Minutes)\n"
            f"Ana,ana@example.org,{cell},03/10/2026 08:00:00 PM,110\n"
        ).encode(),
        session=evening,
    )
    assert [line.line for line in report.untimed] == [2]
    import_report(offering, evening, report)
    ana = records(evening)["ana"]
    assert (ana.minutes_attended, ana.late_minutes, ana.intervals) == (110, None, None)
    # Judged on its minutes: 10 missed, within the 15 allowed.
    assert credited(offering, {"ana": learners["ana"]}) == {"ana": 120}


def test_typed_minutes_are_judged_on_the_minutes_missed(offering, evening, learners):
    ana, ben = (enrollment_of(offering, learners[n]) for n in ("ana", "ben"))
    import_report(offering, evening, read_report(zoom_export(), session=evening))
    save_attendance(offering, evening, {ana.id: 105, ben.id: 104})
    assert records(evening)["ben"].intervals is None, "a typed figure replaces the report's times"
    # 15 missed is within the allowance; 16 isn't.
    assert credited(offering, {"ana": learners["ana"], "ben": learners["ben"]}) == {"ana": 120, "ben": 0}


def test_an_allowance_beyond_an_hour_is_refused(client, web, offering):
    page = client.get(f"/studio/courses/{offering.id}/edit").get_data(as_text=True)
    assert "Late arrival and early departure allowed (minutes)" in page
    assert 'name="checkin_required"' in page
    form = {
        "csrf_token": csrf_token_from(page),
        "title": offering.title,
        "slug": offering.slug,
        "kind": "live_workshop",
        "price_kind": "free",
        "attendance_grace_minutes": "90",
    }
    response = web.client.post(f"/studio/courses/{offering.id}/edit", data=form)
    assert "Enter a number of minutes from 0 to 60" in response.get_data(as_text=True)
    db.session.expire_all()
    assert offering.attendance_grace_minutes == 15


# ---------------------------------------------------------------------------
# Check-in codes


@pytest.fixture
def live_now(offering):
    offering.checkin_required = True
    session, lesson = session_in(offering, minutes_from_now=-20, duration_minutes=90, title="Tonight")
    return session, lesson


def test_a_learner_checks_in_with_the_code_shown_in_the_session(client, web, offering, live_now, learners):
    session, lesson = live_now
    studio = client.get(page_url(offering, session)).get_data(as_text=True)
    assert "Create the check-in code" in studio
    code_url = f"/studio/courses/{offering.id}/sessions/{session.id}/check-in-code/new"
    shown = web.submit(code_url, {}, form_url=page_url(offering, session))
    db.session.expire_all()
    code = session.checkin_code
    assert code is not None and len(code) == 6
    assert code in shown.get_data(as_text=True) and "0 learners checked in so far" in text_of(shown)

    web.logout()
    web.login("ana@example.org", PASSWORD)
    lesson_page = client.get(f"/learn/{offering.slug}/lessons/{lesson.id}").get_data(as_text=True)
    assert "Check-in code" in lesson_page
    check_url = f"/learn/{offering.slug}/sessions/{session.id}/check-in"
    lesson_url = f"/learn/{offering.slug}/lessons/{lesson.id}"
    wrong = web.submit(check_url, {"code": "AAAAAA"}, form_url=lesson_url)
    assert "That isn't the code shown in the session" in text_of(wrong)
    typed = f" {code[:3].lower()}-{code[3:]} "  # spaces, a dash and small letters don't matter
    right = web.submit(check_url, {"code": typed}, form_url=lesson_url)
    assert "You're checked in to this session." in text_of(right)
    again = web.submit(check_url, {"code": code}, form_url=lesson_url)
    assert "You're checked in to this session." in text_of(again)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LiveCheckIn)) == 1


def test_only_checked_in_learners_get_credit_for_a_session_whose_code_was_shown(offering, live_now, learners):
    session, _lesson = live_now
    ana, ben = (enrollment_of(offering, learners[n]) for n in ("ana", "ben"))
    save_attendance(offering, session, {ana.id: 90, ben.id: 90})
    both = {"ana": learners["ana"], "ben": learners["ben"]}
    assert credited(offering, both) == {"ana": 90, "ben": 90}, "no code shown: the session counts without one"
    session.checkin_code = "K7QX3M"
    check_in(ana, session, "K7QX3M")
    assert credited(offering, both) == {"ana": 90, "ben": 0}
    assert checked_in(ana, session) and not checked_in(ben, session)


def test_check_in_is_refused_outside_the_session(offering, learners):
    offering.checkin_required = True
    ana = enrollment_of(offering, learners["ana"])
    tomorrow, _ = session_in(offering, minutes_from_now=24 * 60, checkin_code="K7QX3M")
    with pytest.raises(CheckInRefused, match="only during the session"):
        check_in(ana, tomorrow, "K7QX3M")
    last_week, _ = session_in(offering, minutes_from_now=-7 * 24 * 60, checkin_code="K7QX3M")
    with pytest.raises(CheckInRefused, match="only during the session"):
        check_in(ana, last_week, "K7QX3M")
    no_code_yet, _ = session_in(offering, minutes_from_now=-5)
    with pytest.raises(CheckInRefused, match="hasn't been shown yet"):
        check_in(ana, no_code_yet, "K7QX3M")
    # Half an hour after the end is still in time (a code shown at the very end).
    just_ended, _ = session_in(offering, minutes_from_now=-100, duration_minutes=90, checkin_code="K7QX3M")
    assert check_in(ana, just_ended, "k7qx3m", now=utcnow()) is True
    assert check_in(ana, just_ended, "K7QX3M", now=utcnow() + timedelta(minutes=1)) is False


def test_the_check_in_code_pages_are_the_owners_only(client, web, offering, live_now, learners):
    session, _lesson = live_now
    url = f"/studio/courses/{offering.id}/sessions/{session.id}/check-in-code"
    web.logout()
    web.login("ana@example.org", PASSWORD)
    assert client.get(url).status_code in (302, 403, 404)
    offering.checkin_required = False
    db.session.commit()
    web.logout()
    web.login("maya@example.org", PASSWORD)
    assert client.get(url).status_code == 404, "no check-in codes unless the offering asks for them"


def test_the_audit_pack_keeps_the_sign_in_sheet_and_why_credit_was_denied(client, offering, evening, learners):
    import_report(offering, evening, read_report(zoom_export(), session=evening))
    evening.checkin_code = "K7QX3M"
    offering.checkin_required = True
    db.session.add(
        LiveCheckIn(
            live_session_id=evening.id,
            enrollment_id=enrollment_of(offering, learners["dev"]).id,
            checked_in_at=EVENING + timedelta(minutes=70),
        )
    )
    db.session.commit()
    response = client.get(f"/studio/courses/{offering.id}/ce/audit-pack.zip")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as pack:
        rows = {row["email"]: row for row in csv.DictReader(io.StringIO(pack.read("attendance.csv").decode()))}
    dev, ben = rows["dev@example.org"], rows["ben@example.org"]
    assert dev["joined_and_left"] == (
        "2026-03-10T23:00:30+00:00 to 2026-03-10T23:40:00+00:00; 2026-03-10T23:48:00+00:00 to 2026-03-11T01:00:00+00:00"
    )
    assert (dev["minutes_late"], dev["minutes_away"], dev["checked_in_at"]) == ("1", "8", "2026-03-11T00:10:00+00:00")
    assert dev["minutes_credited"] == "120" and dev["no_credit_because"] == ""
    assert ben["minutes_credited"] == "0"
    assert ben["no_credit_because"] == "didn't check in; joined 23 min late (15 min allowed)"


def test_no_code_can_be_created_once_check_in_is_over(client, web, offering, evening, learners):
    """A code created after the session would deny credit to everyone who came."""
    offering.checkin_required = True
    db.session.commit()
    page = text_of(client.get(page_url(offering, evening)))
    assert "This session ended without a check-in code, so it counts without one." in page
    assert "Create the check-in code" not in page
    answer = web.submit(
        f"/studio/courses/{offering.id}/sessions/{evening.id}/check-in-code/new",
        {},
        form_url=page_url(offering, evening),
    )
    assert "This session is over: a code created now would deny credit" in text_of(answer)
    db.session.expire_all()
    assert evening.checkin_code is None


def test_a_report_on_other_clocks_falls_back_to_its_durations(offering, evening, learners):
    """Zoom writes times on the account's clocks: an account six hours off the session's meets nobody."""
    shifted = (
        b"Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes)\n"
        b"Ana Ortiz,ana@example.org,03/11/2026 12:00:00 AM,03/11/2026 02:00:00 AM,120\n"
        b"Ben Halloran,ben@example.org,03/11/2026 12:10:00 AM,03/11/2026 02:00:00 AM,110\n"
    )
    report = read_report(shifted, session=evening)
    assert [line.line for line in report.untimed] == [2, 3]
    assert "export the report on the session's clocks (America/Chicago)" in report.untimed[0].reason
    import_report(offering, evening, report)
    got = {name: (r.minutes_attended, r.late_minutes) for name, r in records(evening).items()}
    assert got == {"ana": (120, None), "ben": (110, None)}
    assert credited(offering, {"ana": learners["ana"], "ben": learners["ben"]}) == {"ana": 120, "ben": 120}


# ---------------------------------------------------------------------------
# Attacks from a hostile review, each a defect found and fixed


def credited_to(offering, user) -> int:
    db.session.expire_all()
    return attendance_summary(enrollment_of(offering, user)).attended_minutes


# 1. A first-join / last-leave summary row (Teams' attendance summary, Zoom's "unique users" export) hides the
#    time away: the span replaces the report's own duration and away is 0, so a learner present 15 of 120
#    minutes is credited the whole session.
@pytest.mark.parametrize(
    "report",
    [
        # Teams: First Join, Last Leave, In-Meeting Duration (README: "Teams' First Join/Last Leave")
        "Name,First Join,Last Leave,In-Meeting Duration,Email,Participant ID (UPN),Role\n"
        'Ana Ortiz,"3/10/26, 6:00:00 PM","3/10/26, 8:00:00 PM",15m 0s,ana@example.org,ana@example.org,Attendee\n',
        # Zoom participants export with "Show unique users": first join, last leave, total duration
        "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest\n"
        "Ana Ortiz,ana@example.org,03/10/2026 06:00:00 PM,03/10/2026 08:00:00 PM,15,No\n",
    ],
    ids=["teams-summary", "zoom-unique-users"],
)
def test_a_summary_row_with_first_join_and_last_leave_hides_the_time_away(offering, evening, report):
    ana = learner(offering, email="ana@example.org")
    import_report(offering, evening, read_report(report.encode(), session=evening))
    db.session.expire_all()
    record = db.session.scalar(sa.select(Attendance))
    # The report says Ana was in the meeting 15 minutes.
    assert record.minutes_attended <= 15, f"recorded {record.minutes_attended} min, away {record.away_minutes}"
    assert credited_to(offering, ana) == 0


# 2. A check-in code created after check-in has closed (the creator opens the attendance page the next day
#    and presses "Create the check-in code") takes every attendee's credit for the session, retroactively.
def test_a_code_created_after_the_session_takes_everyones_credit(client, web, offering):
    offering.checkin_required = True
    yesterday, _ = session_in(offering, minutes_from_now=-24 * 60, duration_minutes=90)
    ana = learner(offering, email="ana@example.org")
    save_attendance(offering, yesterday, {enrollment_of(offering, ana).id: 90})
    db.session.commit()
    assert credited_to(offering, ana) == 90
    page = client.get(page_url(offering, yesterday)).get_data(as_text=True)
    response = client.post(
        f"/studio/courses/{offering.id}/sessions/{yesterday.id}/check-in-code/new",
        data={"csrf_token": csrf_token_from(page)},
    )
    db.session.expire_all()
    assert yesterday.checkin_code is None, f"a code was created a day late ({response.status_code})"
    assert credited_to(offering, ana) == 90


# 3. Check-in is limited to 20 an hour per IP address: a room of learners on one network (an agency's
#    training room, a clinic's office Wi-Fi) can't all check in, and those refused lose the session's credit.
def test_learners_sharing_a_network_can_all_check_in(app, offering):
    offering.checkin_required = True
    session, lesson = session_in(offering, minutes_from_now=-20, duration_minutes=90, checkin_code="K7QX3M")
    people = [learner(offering, email=f"learner{n}@example.org") for n in range(25)]
    db.session.commit()
    refused = []
    for n, person in enumerate(people):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.1.0.{n + 1}"  # each logs in from home...
        login = client.get("/login").get_data(as_text=True)
        client.post("/login", data={"csrf_token": csrf_token_from(login), "email": person.email, "password": PASSWORD})
        client.environ_base["REMOTE_ADDR"] = "203.0.113.7"  # ...and checks in from the training room
        lesson_page = client.get(f"/learn/{offering.slug}/lessons/{lesson.id}").get_data(as_text=True)
        answer = client.post(
            f"/learn/{offering.slug}/sessions/{session.id}/check-in",
            data={"csrf_token": csrf_token_from(lesson_page), "code": "K7QX3M"},
        )
        if answer.status_code == 429:
            refused.append(n)
    assert refused == [], f"{len(refused)} of 25 learners refused (429)"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LiveCheckIn)) == 25


# 4. With an allowance at least the session's length, a learner recorded as absent (0 minutes typed:
#    "0 means they didn't come"), or who only joined after the end, is credited the whole session.
def test_an_absent_learner_earns_a_short_session_under_a_long_allowance(offering):
    offering.attendance_grace_minutes = 30
    check, _ = session_in(offering, starts_at=EVENING, duration_minutes=30, zone="America/Chicago")
    ana, ben = learner(offering, email="ana@example.org"), learner(offering, email="ben@example.org")
    save_attendance(offering, check, {enrollment_of(offering, ana).id: 0})
    late = (
        "Name,User Email,Join Time,Leave Time,Duration (Minutes)\n"
        "Cara,cara@example.org,03/10/2026 05:59:00 PM,03/10/2026 06:30:00 PM,31\n"  # the session's clocks
        "Ben,ben@example.org,03/10/2026 06:45:00 PM,03/10/2026 06:50:00 PM,5\n"  # after the 6:30 end
    )
    import_report(offering, check, read_report(late.encode(), session=check))
    assert (credited_to(offering, ana), credited_to(offering, ben)) == (0, 0)


# 5. A day-first report with a comma after the date (Teams outside the US: "10/03/2026, 18:58:12") or a
#    day-first 12-hour clock isn't read, although the README and parse_moment say day-first dates are.
@pytest.mark.parametrize("cell", ["10/03/2026, 18:05:00", "10/03/2026 06:05:00 PM", "10/03/26, 18:05"])
def test_day_first_teams_and_zoom_times_are_read(evening, cell):
    assert parse_moment(cell, evening) == EVENING + timedelta(minutes=5)


# 6. A clock-only time (Google Meet) just before midnight, for a session starting just after it, isn't read.
def test_a_clock_time_the_evening_before_a_session_after_midnight(offering):
    after_midnight, _ = session_in(
        offering, starts_at=datetime(2026, 3, 11, 5, 30, tzinfo=UTC), duration_minutes=60, zone="America/Chicago"
    )  # 12:30 AM to 1:30 AM in Chicago
    assert parse_moment("11:55 PM", after_midnight) == datetime(2026, 3, 11, 4, 55, tzinfo=UTC)


# 7. A session across the autumn clock change: a naive leave time in the repeated hour is read as its first
#    occurrence (fold=0), so a learner who stayed to the end is recorded as leaving an hour early.
def test_a_leave_time_in_the_repeated_hour_of_a_dst_change(offering):
    night, _ = session_in(
        offering, starts_at=datetime(2026, 11, 1, 5, 30, tzinfo=UTC), duration_minutes=120, zone="America/Chicago"
    )  # 12:30 AM CDT to 1:30 AM CST (the second 1:30) in Chicago
    ana = learner(offering, email="ana@example.org")
    report = (
        "Name,User Email,Join Time,Leave Time,Duration (Minutes)\n"
        "Ana,ana@example.org,11/01/2026 12:29:00 AM,11/01/2026 01:31:00 AM,122\n"
    )
    import_report(offering, night, read_report(report.encode(), session=night))
    db.session.expire_all()
    record = db.session.scalar(sa.select(Attendance))
    assert (record.minutes_attended, record.early_minutes) == (122, 0)
    assert credited_to(offering, ana) == 120
