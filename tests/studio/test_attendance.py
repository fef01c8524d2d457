"""A creator records who attended a live session: by hand for everyone at once, or by importing the
attendance report of Zoom, Google Meet or Teams; each learner's attendance across the workshop is shown
against the minimum the certificate asks for. Nobody but the owner (or an admin) sees any of it."""

from __future__ import annotations

import html
import io
import re

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from courseplatform.extensions import db
from courseplatform.models import Attendance, Enrollment, Offering, OfferingKind
from courseplatform.studio.live.services import parse_duration

from ..factories import PASSWORD, CreatorProfileFactory, OfferingFactory, UserFactory
from ..factories.live import learner, session_in, workshop
from ..helpers import csrf_token_from


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org", user__time_zone="America/New_York")
    web.login("maya@example.org", PASSWORD)
    return profile


@pytest.fixture
def offering(creator):
    return workshop(creator=creator)


@pytest.fixture
def session(offering):
    session, _lesson = session_in(offering, minutes_from_now=-3 * 60, duration_minutes=90, title="Evening 1")
    return session


def page_url(offering, session) -> str:
    return f"/studio/courses/{offering.id}/sessions/{session.id}/attendance"


def minutes_of(session) -> dict[str, tuple[int, str]]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Attendance).where(Attendance.live_session_id == session.id))
    return {row.enrollment.user.email: (row.minutes_attended, row.source) for row in rows}


def form_rows(html: str) -> dict[str, str]:
    """{enrollment_id field name prefix: enrollment id} as the page's hidden fields carry them."""
    return dict(re.findall(r'name="(rows-\d+)-enrollment_id" type="hidden" value="(\d+)"', html))


def manual(client, web, offering, session, by_email: dict[str, str]):
    """Fill the attendance table as a creator would: one box per learner, found by their row."""
    html = client.get(page_url(offering, session)).get_data(as_text=True)
    enrollment_emails = {str(row.id): row.user.email for row in db.session.scalars(sa.select(Enrollment))}
    data = {}
    for prefix, enrollment_id in form_rows(html).items():
        data[f"{prefix}-enrollment_id"] = enrollment_id
        data[f"{prefix}-minutes"] = by_email.get(enrollment_emails[enrollment_id], "")
    return web.submit(page_url(offering, session), data)


def text_of(response) -> str:
    """The page as a reader sees it: no tags, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True))).split())


def upload(web, offering, session, text: str | bytes, name: str = "participants.csv", **fields):
    """Send a report as the import form does (the body built here: the test client would spool a large one)."""
    data = text if isinstance(text, bytes) else text.encode()
    token = csrf_token_from(web.client.get(page_url(offering, session)).get_data(as_text=True))
    fields = {
        "csrf_token": token,
        **fields,
        "file": FileStorage(io.BytesIO(data), filename=name, content_type="text/csv"),
    }
    boundary, body = encode_multipart(fields)
    return web.client.post(
        page_url(offering, session) + "/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        follow_redirects=True,
    )


def test_manual_minutes_are_saved_for_everyone_at_once(client, web, offering, session):
    ana, ben, cy = (learner(offering, email=f"{n}@example.org", name=n.title()) for n in ("ana", "ben", "cy"))
    learner(offering, email="gone@example.org", revoked=True)
    html = client.get(page_url(offering, session)).get_data(as_text=True)
    assert "gone@example.org" not in html, "revoked learners aren't on the roster"
    assert "0 of 3 learners recorded" in html

    response = manual(client, web, offering, session, {ana.email: "90", ben.email: "45", cy.email: ""})
    html = response.get_data(as_text=True)
    assert "Attendance saved: 2 learners recorded." in html
    assert minutes_of(session) == {ana.email: (90, "manual"), ben.email: (45, "manual")}
    assert "2 of 3 learners recorded" in html and "Typed in" in html

    manual(client, web, offering, session, {ana.email: "", ben.email: "45", cy.email: "0"})
    assert minutes_of(session) == {ben.email: (45, "manual"), cy.email: (0, "manual")}, "a cleared box forgets"


@pytest.mark.parametrize("typed", ["-1", "181", "lots"])
def test_bad_minutes_are_refused_and_nothing_changes(client, web, offering, session, typed):
    ana, ben = learner(offering, email="ana@example.org"), learner(offering, email="ben@example.org")
    manual(client, web, offering, session, {ana.email: "30"})

    html = manual(client, web, offering, session, {ana.email: "60", ben.email: typed}).get_data(as_text=True)
    assert "Please correct the" in html
    assert "Enter minutes from 0 to 180, or leave it blank." in html or "Not a valid integer value." in html
    assert minutes_of(session) == {ana.email: (30, "manual")}


@pytest.mark.parametrize("tampered", ["\u00b2", "\u0661", "abc", "-1", "9" * 19, "2147483648"])
def test_a_tampered_learner_id_is_ignored_and_changes_nothing(client, web, offering, session, tampered):
    ana = learner(offering, email="ana@example.org")
    manual(client, web, offering, session, {ana.email: "30"})

    response = web.submit(page_url(offering, session), {"rows-0-enrollment_id": tampered, "rows-0-minutes": "5"})
    assert response.status_code == 200
    assert "Attendance saved: 0 learners recorded." in response.get_data(as_text=True)
    assert minutes_of(session) == {ana.email: (30, "manual")}


ZOOM_REPORT = """Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest
Ana Ruiz,ana@example.org,12/04/2040 07:00:12 PM,12/04/2040 07:50:00 PM,50,No
Ana Ruiz (phone),ANA@Example.org,12/04/2040 07:55:00 PM,12/04/2040 08:30:00 PM,35,No
Ben Cho,ben@example.org,12/04/2040 07:01:00 PM,12/04/2040 08:30:00 PM,eighty,No
Dee Ng,dee@example.org,12/04/2040 07:02:00 PM,12/04/2040 08:30:00 PM,88,No
Sam Visitor,stranger@example.org,12/04/2040 07:02:00 PM,12/04/2040 08:02:00 PM,60,No
Guest,,12/04/2040 07:10:00 PM,12/04/2040 07:30:00 PM,20,Yes
"""


def test_a_zoom_report_is_imported_with_rejoins_added_up(client, web, offering, session):
    ana, ben, dee = (learner(offering, email=f"{n}@example.org") for n in ("ana", "ben", "dee"))
    eve = learner(offering, email="eve@example.org")
    manual(client, web, offering, session, {ben.email: "70", dee.email: "10", eve.email: "30"})

    text = text_of(upload(web, offering, session, ZOOM_REPORT))
    assert "Report imported: 2 learners recorded" in text
    assert "“User Email” and “Duration (Minutes)”" in text
    assert "Line 6 stranger@example.org" in text, "an address that isn't a learner, with its line"
    assert "Line 4 ben@example.org: “eighty” isn't a duration we can read" in text
    assert "Line 7 Guest: No e-mail address" in text
    assert minutes_of(session) == {
        ana.email: (85, "import"),  # 50 + 35, matched whatever the case of the address
        ben.email: (70, "manual"),  # an unreadable line: the earlier figure stays
        dee.email: (88, "import"),  # replaces the figure typed before
        eve.email: (30, "manual"),  # not in the report: untouched
    }
    assert "Imported" in client.get(page_url(offering, session)).get_data(as_text=True)


def test_a_zoom_export_with_the_meeting_summary_first_reads_the_participants(web, offering, session):
    ana = learner(offering, email="ana@example.org")
    report = (
        "Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants\n"
        "812 3456 7890,Couples in Crisis,12/04/2040 06:55:00 PM,12/04/2040 08:35:00 PM,maya@example.org,100,3\n"
        "\n" + ZOOM_REPORT
    )
    upload(web, offering, session, report)
    assert minutes_of(session) == {ana.email: (85, "import")}


def test_a_teams_report_in_utf16_with_tabs_is_read(web, offering, session):
    ana, ben = learner(offering, email="ana@example.org"), learner(offering, email="ben@example.org")
    report = (
        "1. Summary\n"
        "Meeting title\tCouples in Crisis\n"
        "Attended participants\t2\n"
        "\n"
        "2. Participants\n"
        "Name\tFirst Join\tLast Leave\tIn-Meeting Duration\tEmail\tParticipant ID (UPN)\tRole\n"
        "Ana Ruiz\t12/4/40, 7:00:00 PM\t12/4/40, 8:30:00 PM\t1h 25m 30s\tana@example.org\tana@example.org\tAttendee\n"
        "Ben Cho\t12/4/40, 7:10:00 PM\t12/4/40, 7:50:00 PM\t40m\tben@example.org\tben@example.org\tAttendee\n"
        "\n"
        "3. In-Meeting Activities\n"
        "Name\tJoin Time\tLeave Time\tDuration\tEmail\tRole\n"
        "Ana Ruiz\t12/4/40, 7:00:00 PM\t12/4/40, 8:30:00 PM\t1h 25m 30s\tana@example.org\tAttendee\n"
        "Ben Cho\t12/4/40, 7:10:00 PM\t12/4/40, 7:30:00 PM\t20m\tben@example.org\tAttendee\n"
        "Ben Cho\t12/4/40, 7:30:00 PM\t12/4/40, 7:50:00 PM\t20m\tben@example.org\tAttendee\n"
    )
    upload(web, offering, session, report.encode("utf-16"), name="attendance.csv")
    assert minutes_of(session) == {ana.email: (86, "import"), ben.email: (40, "import")}


def test_unrecognised_columns_are_chosen_by_the_creator(web, offering, session):
    ana = learner(offering, email="ana@example.org")
    report = "Participant,Address,Stayed for\nAna Ruiz,ana@example.org,1:05:00\n"

    html = upload(web, offering, session, report).get_data(as_text=True)
    assert "We couldn&#39;t tell which columns hold the e-mail addresses and the minutes attended." in html
    assert '<option value="Stayed for">Stayed for</option>' in html
    assert minutes_of(session) == {}

    upload(web, offering, session, report, email_column="Address", minutes_column="Stayed for")
    assert minutes_of(session) == {ana.email: (65, "import")}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"email,minutes\n" + b"a" * (1024 * 1024), "That file is larger than 1 MB."),
        (b"PK\x03\x04 a spreadsheet, not a CSV", "That file isn&#39;t a CSV."),
        (b"", "That file is empty."),
    ],
)
def test_unusable_files_are_refused_and_change_nothing(web, offering, session, data, message):
    learner(offering, email="ana@example.org")
    html = upload(web, offering, session, data).get_data(as_text=True)
    assert message in html
    assert minutes_of(session) == {}


def test_a_huge_figure_is_kept_to_twice_the_sessions_length(web, offering, session):
    ana = learner(offering, email="ana@example.org")
    html = upload(web, offering, session, "Email,Duration (Minutes)\nana@example.org,500\n").get_data(as_text=True)
    assert "recorded as 180 min" in html
    assert minutes_of(session) == {ana.email: (180, "import")}


@pytest.mark.parametrize(
    ("cell", "unit", "seconds"),
    [
        ("45", 60, 2700),
        ("45.5", 60, 2730),
        ("3600", 1, 3600),
        ("1:05:30", 60, 3930),
        ("1:05", 60, 3900),
        ("1 hr 5 min", 60, 3900),
        ("1h 5m 30s", 60, 3930),
        ("40m", 60, 2400),
        ("soon", 60, None),
        ("-5", 60, None),
        ("", 60, None),
        ("100000", 60, 6_000_000),
        ("6000000", 1, 6_000_000),
        ("27 hours, 46 minutes", 60, 99_960),
    ],
)
def test_durations_as_meeting_platforms_write_them(cell, unit, seconds):
    assert parse_duration(cell, unit) == seconds


@pytest.mark.parametrize(
    ("cell", "unit"),
    [
        ("NaN", 60),
        ("sNaN", 60),
        ("-nan", 60),
        ("Infinity", 60),
        ("1e400", 60),
        ("1e500000", 60),  # a huge integer that took seconds of CPU to build
        ("1e999999999", 1),
        ("100001", 60),
        ("6000001", 1),
        ("1667", 3600),
        ("2000 hours", 60),
        ("99999:00:00", 60),
        ("9" * 5000 + ":00", 60),  # more digits than int() takes
        ("1" * 400 + "h", 60),
        ("1" * 100_000 + " x", 60),  # quadratic for the unit pattern if it were tried
        ("²", 60),
    ],
)
def test_figures_that_arent_finite_or_exceed_100000_minutes_are_unreadable(cell, unit):
    assert parse_duration(cell, unit) is None


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("NaN", "“NaN”"),
        ("sNaN", "“sNaN”"),
        ("1e400", "“1e400”"),
        ("1e500000", "“1e500000”"),
        ("100001", "“100001”"),
        ("3000 hrs", "“3000 hrs”"),
        ("9" * 5000, "“" + "9" * 40 + "…”"),
    ],
)
def test_an_absurd_duration_is_reported_with_its_line_and_changes_nothing(client, web, offering, session, cell, shown):
    ana, ben = learner(offering, email="ana@example.org"), learner(offering, email="ben@example.org")
    manual(client, web, offering, session, {ana.email: "30"})

    report = f"Name,User Email,Duration (Minutes)\nBen,ben@example.org,45\nAna,ana@example.org,{cell}\n"
    response = upload(web, offering, session, report)
    assert response.status_code == 200
    text = text_of(response)
    assert "Report imported: 1 learner recorded" in text
    assert f"Line 3 ana@example.org: {shown} isn't a duration we can read, so it wasn't imported" in text
    assert minutes_of(session) == {ana.email: (30, "manual"), ben.email: (45, "import")}


def test_attendance_across_the_workshop_is_shown_against_the_minimum(client, web, creator):
    offering = workshop(creator=creator, min_attendance_percent=75)
    first, _ = session_in(offering, minutes_from_now=-10 * 24 * 60, duration_minutes=60)
    second, _ = session_in(offering, minutes_from_now=-3 * 24 * 60, duration_minutes=60)
    ana, ben = learner(offering, email="ana@example.org"), learner(offering, email="ben@example.org")
    manual(client, web, offering, first, {ana.email: "75", ben.email: "60"})  # Ana's extra minutes don't count
    manual(client, web, offering, second, {ana.email: "30", ben.email: "0"})

    html = client.get(page_url(offering, second)).get_data(as_text=True)
    assert "Learners need 75% of the live minutes" in html
    rows = {email: row for row in html.split("<tr>") for email in (ana.email, ben.email) if email in row}
    assert "75% of 120 min" in rows[ana.email] and "meets 75%" in rows[ana.email]
    assert "50% of 120 min" in rows[ben.email] and "below 75%" in rows[ben.email]


def test_other_creators_and_learners_never_see_attendance(client, web, offering, session):
    ana = learner(offering, email="ana@example.org")
    web.logout()
    CreatorProfileFactory(user__email="other@example.org")
    web.login("other@example.org", PASSWORD)
    assert client.get(page_url(offering, session)).status_code == 404
    assert client.post(page_url(offering, session)).status_code in (400, 404)
    assert client.post(page_url(offering, session) + "/import").status_code in (400, 404)
    web.logout()
    web.login(ana.email, PASSWORD)
    assert client.get(page_url(offering, session)).status_code in (302, 404)
    assert minutes_of(session) == {}


def test_an_admin_may_record_attendance(client, web, offering, session):
    ana = learner(offering, email="ana@example.org")
    web.logout()
    UserFactory(email="admin@example.org", is_admin=True)
    web.login("admin@example.org", PASSWORD)
    manual(client, web, offering, session, {ana.email: "42"})
    assert minutes_of(session) == {ana.email: (42, "manual")}


def test_past_sessions_link_to_their_attendance(client, offering, session):
    upcoming, _ = session_in(offering, minutes_from_now=3 * 24 * 60)
    html = client.get(f"/studio/courses/{offering.id}/sessions").get_data(as_text=True)
    assert page_url(offering, session) in html
    assert page_url(offering, upcoming) not in html


def test_the_attendance_page_runs_a_constant_number_of_queries(client, web, creator, count_queries):
    counts = []
    for size in (3, 30):
        offering = workshop(creator=creator)
        sessions = [session_in(offering, minutes_from_now=-days * 24 * 60)[0] for days in (9, 2)]
        for n in range(size):
            user = learner(offering, email=f"l{size}-{n}@example.org")
            for s in sessions:
                enrollment_id = db.session.scalar(sa.select(Enrollment.id).where(Enrollment.user_id == user.id))
                db.session.add(Attendance(live_session_id=s.id, enrollment_id=enrollment_id, minutes_attended=n))
        db.session.flush()
        with count_queries() as counter:
            response = client.get(page_url(offering, sessions[1]))
        assert response.status_code == 200
        assert response.get_data(as_text=True).count('type="number"') == size
        counts.append(counter.count)
    assert counts[0] == counts[1], f"{counts[0]} queries with 3 learners, {counts[1]} with 30"


# ---------------------------------------------------------------------------
# The certificate's minimum, on the offering's Details form


def details(offering) -> dict:
    return {
        "kind": offering.kind.value,
        "title": offering.title,
        "slug": offering.slug,
        "price_kind": "fixed",
        "price_cents": "99.00",
    }


def stored_minimum(offering) -> int | None:
    db.session.expire_all()
    return db.session.get(Offering, offering.id).min_attendance_percent


def test_a_live_workshop_sets_its_minimum_attendance(web, client, offering):
    url = f"/studio/courses/{offering.id}/edit"
    assert "Minimum attendance for the certificate (%)" in client.get(url).get_data(as_text=True)

    assert "Your changes are saved." in web.submit(url, details(offering) | {"min_attendance_percent": "80"}).get_data(
        as_text=True
    )
    assert stored_minimum(offering) == 80
    for bad in ("0", "101", "half"):
        html = web.submit(url, details(offering) | {"min_attendance_percent": bad}).get_data(as_text=True)
        assert "Enter a percentage from 1 to 100, or leave it empty." in html or "Not a valid integer" in html
        assert stored_minimum(offering) == 80
    web.submit(url, details(offering) | {"min_attendance_percent": ""})
    assert stored_minimum(offering) is None


def test_other_offerings_have_no_minimum_attendance(web, client, creator):
    offering = OfferingFactory(creator=creator, kind=OfferingKind.COURSE)
    url = f"/studio/courses/{offering.id}/edit"
    assert "Minimum attendance" not in client.get(url).get_data(as_text=True)
    web.submit(url, details(offering) | {"min_attendance_percent": "80"})
    assert stored_minimum(offering) is None
