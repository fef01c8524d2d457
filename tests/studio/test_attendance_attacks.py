"""Attacks on the live attendance rules and check-in codes, each a defect found in review and fixed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.learning.progress import attendance_summary
from courseplatform.models import Attendance, Enrollment, LiveCheckIn
from courseplatform.studio.live.services import import_report, parse_moment, read_report, save_attendance

from ..factories import PASSWORD, CreatorProfileFactory
from ..factories.live import learner, session_in, workshop
from ..helpers import csrf_token_from
from .test_attendance import page_url

EVENING = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)  # 6:00 PM in Chicago, 2 hours


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
    session, _ = session_in(offering, starts_at=EVENING, duration_minutes=120, zone="America/Chicago")
    return session


def enrollment_of(offering, user) -> Enrollment:
    return db.session.scalar(sa.select(Enrollment).filter_by(offering_id=offering.id, user_id=user.id))


def credited(offering, user) -> int:
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
    assert credited(offering, ana) == 0


# 2. A check-in code created after check-in has closed (the creator opens the attendance page the next day
#    and presses "Create the check-in code") takes every attendee's credit for the session, retroactively.
def test_a_code_created_after_the_session_takes_everyones_credit(client, web, offering):
    offering.checkin_required = True
    yesterday, _ = session_in(offering, minutes_from_now=-24 * 60, duration_minutes=90)
    ana = learner(offering, email="ana@example.org")
    save_attendance(offering, yesterday, {enrollment_of(offering, ana).id: 90})
    db.session.commit()
    assert credited(offering, ana) == 90
    page = client.get(page_url(offering, yesterday)).get_data(as_text=True)
    response = client.post(
        f"/studio/courses/{offering.id}/sessions/{yesterday.id}/check-in-code/new",
        data={"csrf_token": csrf_token_from(page)},
    )
    db.session.expire_all()
    assert yesterday.checkin_code is None, f"a code was created a day late ({response.status_code})"
    assert credited(offering, ana) == 90


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
    assert (credited(offering, ana), credited(offering, ben)) == (0, 0)


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
    assert credited(offering, ana) == 120
