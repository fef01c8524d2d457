"""Importing a practice-management export: column mapping, a preview, bad rows by line, idempotent re-import,
and no trace of a client anywhere."""

from __future__ import annotations

import io
import json
import re
import zlib
from datetime import date
from html import unescape

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from courseplatform.extensions import db
from courseplatform.models import PayerKind, SessionIncome, SessionIncomeKind, SessionIncomeSource
from courseplatform.revenue.session_import import (
    column_kind,
    minutes_of_service,
    nature_of_service,
    payer_kind_of,
    read_export,
    status_of,
)

from ..factories import PASSWORD, CreatorProfileFactory, SessionIncomeFactory
from ..helpers import csrf_token_from

EXPORT = """Date of Service,Client,Date of Birth,Diagnosis,Fee,Duration,Units,Payer,Notes
03/02/2026,Jane Quartermaine,04/11/1987,F41.1 Generalized anxiety,$150.00,50 min,1,Self-pay,Discussed her divorce
03/02/2026,Robert Okonkwo-Lindqvist,1990-02-02,F32.1 Major depressive,"1,250.00",0:50,1,Aetna,Session about his job loss
3/3/26,Jane Quartermaine,04/11/1987,F41.1 Generalized anxiety,150,50,1,Sliding scale,
"Mar 5, 2026",Maria Santorini-Vale,1979-07-07,F43.10 PTSD,$120.00,90 min,2,BCBS,EMDR
"""
CLIENT_TRACES = ["Quartermaine", "Okonkwo", "Santorini", "F41.1", "anxiety", "divorce", "1987", "EMDR", "Aetna", "BCBS"]


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(
        user__email="maya@example.org", user__time_zone="America/New_York", default_session_minutes=45
    )
    web.login("maya@example.org", PASSWORD)
    return profile


def upload(web, content: str | bytes, filename="export.csv", keep="days"):
    """Post the upload form, encoded in memory, and choose what to keep.

    Most tests here are about how each line is read, so they keep a line a session ("days") and see it;
    the product's default, monthly totals only, is tested with keep="months".
    """
    token = csrf_token_from(web.client.get("/studio/sessions/import").get_data(as_text=True))
    data = content.encode() if isinstance(content, str) else content
    fields = {"csrf_token": token, "file": FileStorage(io.BytesIO(data), filename=filename, content_type="text/csv")}
    boundary, body = encode_multipart(fields)
    response = web.client.post(
        "/studio/sessions/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    if keep == "months" or 'name="kept"' not in response.get_data(as_text=True):
        return response
    return web.client.post(
        "/studio/sessions/import/confirm",
        data={**form_values(response.get_data(as_text=True)), "keep": keep, "preview": "1"},
    )


def form_values(html: str) -> dict[str, str]:
    """The mapping form as the browser would send it: hidden fields and selected options."""
    values = {"csrf_token": csrf_token_from(html)}
    values["kept"] = unescape(re.search(r'name="kept" type="hidden" value="([^"]*)"', html).group(1))
    for radio in re.finditer(r'<input checked[^>]*name="(\w+)" type="radio" value="([^"]*)"', html):
        values[radio.group(1)] = radio.group(2)
    for select in re.finditer(r'<select[^>]*name="(\w+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', select.group(2))
        values[select.group(1)] = next(v for v in chosen.groups() if v is not None) if chosen else ""
    return values


def confirm(web, preview_html: str, **changes):
    """Confirm the import, then follow to its report (the job has run by then: the tests run jobs inline)."""
    values = {**form_values(preview_html), "confirm": "1", **changes}
    return web.client.post("/studio/sessions/import/confirm", data=values, follow_redirects=True)


def carried(web, kept: str) -> str:
    """What the preview's signed, compressed field carries to the next step, as text."""
    payload = URLSafeTimedSerializer(web.client.application.config["SECRET_KEY"], salt="session-income-import")
    return zlib.decompress(bytes.fromhex(payload.loads(kept))).decode()


def imported(profile) -> list[SessionIncome]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(SessionIncome)
            .where(SessionIncome.creator_id == profile.id)
            .order_by(SessionIncome.session_date, SessionIncome.amount_cents)
        )
    )


def test_columns_are_suggested_from_their_names_and_client_columns_dropped_at_once(web, creator):
    page = upload(web, EXPORT).get_data(as_text=True)
    values = form_values(page)
    headers = EXPORT.splitlines()[0].split(",")
    assert {target: headers[int(values[target])] for target in ("date", "fee", "duration", "payer")} == {
        "date": "Date of Service",
        "fee": "Fee",
        "duration": "Duration",
        "payer": "Payer",
    }
    # Billing units (a 90-minute session billed as two units) are not a number of sessions.
    assert values["count"] == ""
    assert "Dropped before anything was stored:</strong> Client, Date of Birth, Diagnosis, Units, Notes." in page
    assert "4 rows ready" in page


def test_the_preview_shows_only_the_mapped_values_and_never_a_client(web, creator):
    response = upload(web, EXPORT)
    page = response.get_data(as_text=True)
    assert "Mar 2, 2026" in page and "$1,250" in page and "Sliding scale" in page and "Insurance" in page
    kept = form_values(page)["kept"]
    for trace in CLIENT_TRACES:
        assert trace not in page, trace
    # The columns carried to the next step are compressed and signed; decoded, they still hold no client.
    for trace in CLIENT_TRACES:
        assert trace not in carried(web, kept), trace
    assert json.loads(carried(web, kept))["h"][1] == "Client"  # only the column's name, to say it was dropped


def test_importing_stores_the_mapped_values_and_reports_the_dropped_columns(web, creator):
    page = confirm(web, upload(web, EXPORT).get_data(as_text=True)).get_data(as_text=True)
    assert "<dt>Imported</dt><dd>4</dd>" in page
    assert "Dropped before anything was stored:</strong> Client, Date of Birth, Diagnosis, Units, Notes." in page
    rows = [(r.session_date, r.sessions, r.minutes_each, r.amount_cents, r.payer_kind) for r in imported(creator)]
    assert rows == [
        (date(2026, 3, 2), 1, 50, 15000, PayerKind.SELF_PAY),
        (date(2026, 3, 2), 1, 50, 125000, PayerKind.INSURANCE),
        (date(2026, 3, 3), 1, 50, 15000, PayerKind.SLIDING_SCALE),
        (date(2026, 3, 5), 1, 90, 12000, PayerKind.INSURANCE),  # one 90-minute session, billed as 2 units
    ]
    assert {r.source for r in imported(creator)} == {SessionIncomeSource.IMPORT}


def test_a_client_leaves_no_trace_in_the_database_nor_the_pages_after_import(web, client, creator):
    report = confirm(web, upload(web, EXPORT).get_data(as_text=True)).get_data(as_text=True)
    listing = client.get("/studio/sessions").get_data(as_text=True)
    table = db.session.execute(sa.text("SELECT * FROM session_income")).all()
    stored = " ".join(str(value) for row in table for value in row)
    for trace in CLIENT_TRACES:
        assert trace not in stored, trace
        assert trace not in report, trace
        assert trace not in listing, trace


def test_importing_the_same_file_again_adds_nothing(web, creator):
    confirm(web, upload(web, EXPORT).get_data(as_text=True))
    again = confirm(web, upload(web, EXPORT).get_data(as_text=True)).get_data(as_text=True)
    assert "<dt>Imported</dt><dd>0</dd>" in again and "<dt>Already there</dt><dd>4</dd>" in again
    assert len(imported(creator)) == 4


def test_two_identical_sessions_in_one_file_are_both_imported_and_only_once(web, creator):
    export = "Date,Fee\n2026-03-02,150\n2026-03-02,150\n"
    page = confirm(web, upload(web, export).get_data(as_text=True)).get_data(as_text=True)
    assert "<dt>Imported</dt><dd>2</dd>" in page
    confirm(web, upload(web, export).get_data(as_text=True))
    assert len(imported(creator)) == 2
    # A later export with a third such session adds just that one.
    confirm(web, upload(web, export + "2026-03-02,150\n").get_data(as_text=True))
    assert len(imported(creator)) == 3


def test_without_duration_or_count_columns_the_usual_length_and_one_session_are_used(web, creator):
    confirm(web, upload(web, "Date,Fee\n2026-03-02,150\n").get_data(as_text=True))
    (row,) = imported(creator)
    assert (row.sessions, row.minutes_each, row.payer_kind) == (1, 45, PayerKind.SELF_PAY)


BAD_EXPORT = """Date of Service,Client,Fee,Duration
2026-03-02,Ann Example,150,50
2026-13-45,Ben Example,150,50
2026-03-04,Cal Example,abc,50
2026-03-05,Dee Example,150,2 hours and then some
,Eve Example,150,50
2026-03-06,Fay Example,CA$150.00,50
2026-03-07,Gus Example,150,700
"""


def test_each_bad_row_is_listed_with_its_line_and_nothing_is_imported(web, creator):
    preview = upload(web, BAD_EXPORT).get_data(as_text=True)
    assert "1 row ready, 6 with problems" in preview
    page = confirm(web, preview).get_data(as_text=True)
    assert "Nothing was imported: 6 rows have a problem" in page
    problems = re.findall(r'<span class="sessions-problem-line">Line (\d+)</span> ([^<]*)</li>', page)
    assert [(int(line), unescape(reason)) for line, reason in problems] == [
        (3, "“Date of Service” “2026-13-45” isn't a date we can read (use e.g. 2026-03-05 or 03/05/2026)"),
        (4, "“Fee” isn't an amount: Enter an amount such as 150, 150.00 or 90,00 €."),
        (5, "“Duration” isn't a duration (use minutes such as 50, 50 min or 0:50)"),
        (6, "No date in “Date of Service”"),
        (7, "The amount is in CAD; your session income is kept in USD"),
        (8, "The duration “700” should be between 5 and 600 minutes"),
    ]
    assert imported(creator) == []
    for name in ("Ann", "Ben", "Cal", "Dee", "Eve", "Fay", "Gus"):
        assert f"{name} Example" not in page


def test_skipping_the_bad_rows_imports_the_rest_and_reports_them(web, creator):
    page = confirm(web, upload(web, BAD_EXPORT).get_data(as_text=True), skip_bad="y").get_data(as_text=True)
    assert "<dt>Imported</dt><dd>1</dd>" in page and "<dt>Skipped</dt><dd>6</dd>" in page
    assert "Line 3" in page and "Line 8" in page
    (row,) = imported(creator)
    assert row.session_date == date(2026, 3, 2)


def test_changing_the_mapping_updates_the_preview_without_uploading_again(web, creator):
    export = "Service date,Billed,Paid\n2026-03-02,200,150\n"
    preview = upload(web, export).get_data(as_text=True)
    assert "$200" in preview
    values = {**form_values(preview), "fee": "2", "preview": "1"}
    again = web.client.post("/studio/sessions/import/confirm", data=values).get_data(as_text=True)
    assert "$150" in again and "$200" not in again
    assert "Dropped before anything was stored:</strong> Billed." in again
    confirm(web, again)
    assert imported(creator)[0].amount_cents == 15000


@pytest.mark.parametrize(
    ("value", "cents"),
    [("$150.00", 15000), ("150", 15000), ("1,250.00", 125000), ("0", 0), ("$ 99.5", 9950)],
)
def test_fees_in_common_forms_are_read(web, creator, value, cents):
    confirm(web, upload(web, f'Date,Fee\n2026-03-02,"{value}"\n').get_data(as_text=True))
    assert imported(creator)[0].amount_cents == cents


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2026-03-05", date(2026, 3, 5)),
        ("03/05/2026", date(2026, 3, 5)),
        ("3/5/26", date(2026, 3, 5)),
        ("Mar 5, 2026", date(2026, 3, 5)),
        ("03/05/2026 10:00 AM", date(2026, 3, 5)),
    ],
)
def test_dates_in_common_forms_are_read(web, creator, value, day):
    confirm(web, upload(web, f'Date,Fee\n"{value}",150\n').get_data(as_text=True))
    assert imported(creator)[0].session_date == day


def test_a_file_written_day_first_is_read_day_first(web, creator):
    page = upload(web, "Date,Fee\n05/01/2026,150\n13/01/2026,150\n").get_data(as_text=True)
    assert "read day first (3 May 2026), as the dates in your file show" in unescape(page)

    confirm(web, page)

    assert [row.session_date for row in imported(creator)] == [date(2026, 1, 5), date(2026, 1, 13)]


def test_dates_that_read_both_ways_follow_the_creators_currency_and_the_preview_says_so(web, creator):
    page = upload(web, "Date,Fee\n05/01/2026,150\n").get_data(as_text=True)
    assert "month first (March 5, 2026): every date in this file could be read either way" in unescape(page)
    creator.currency = "GBP"
    db.session.flush()

    page = upload(web, "Date,Fee\n05/01/2026,150\n").get_data(as_text=True)
    assert "day first (3 May 2026): every date in this file could be read either way" in unescape(page)
    confirm(web, page)
    assert imported(creator)[0].session_date == date(2026, 1, 5)


@pytest.mark.parametrize(("value", "minutes"), [("50", 50), ("50 min", 50), ("0:50", 50), ("1:30", 90), ("1.5 h", 90)])
def test_durations_in_common_forms_are_read(web, creator, value, minutes):
    confirm(web, upload(web, f"Date,Fee,Duration\n2026-03-05,150,{value}\n").get_data(as_text=True))
    assert imported(creator)[0].minutes_each == minutes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "That file is empty."),
        (b"PK\x03\x04binary", "That file isn&#39;t a CSV."),
        (b"Client,Notes\nJane,hello\n", "We couldn&#39;t find a date and a fee column"),
        (b"Date,Fee\n", "That file has no sessions in it"),
        (b"Date,Fee\n" + b"2026-03-05,150\n" * 150_000, "That file is larger than 2 MB."),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_with_a_reason(web, creator, content, message):
    page = upload(web, content).get_data(as_text=True)
    assert message in page
    assert imported(creator) == []


def test_a_tampered_preview_is_refused(web, creator):
    values = {**form_values(upload(web, EXPORT).get_data(as_text=True)), "confirm": "1"}
    values["kept"] = values["kept"][:-3] + "abc"
    response = web.client.post("/studio/sessions/import/confirm", data=values, follow_redirects=True)
    assert "We couldn&#39;t read the preview. Upload the file again." in response.get_data(as_text=True)
    assert imported(creator) == []


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("Date of Service", "date"),
        ("DOS", "date"),
        ("Date of Birth", None),
        ("Client DOB", None),
        ("Client", None),
        ("Client Name", None),
        ("Patient ID", None),
        ("Diagnosis", None),
        ("Notes", None),
        ("Client Paid", "fee"),
        ("Insurance Paid", "fee"),
        ("Total Fee", "fee"),
        ("Payment Type", "payer"),
        ("Primary Insurance", "payer"),
        ("Units", None),  # billing units, not sessions
        ("Total Units", None),
        ("Sessions", "count"),
        ("Number of Visits", "count"),
        ("Session Rate", "fee"),
        ("Rate per Unit", "fee"),
        ("Service Fee Per Unit", "fee"),
        ("Collected", "fee"),
        ("Copay", "fee"),
        ("Intake Date", None),
        ("Referral Date", None),
        ("Appointment Date", "date"),
        ("Service", "service"),  # read for the length it states, never kept
        ("Service Description", "service"),
        ("CPT Code", "service"),
        ("Billing Code", "service"),
        ("Diagnosis Code", None),
        ("ICD-10 Code", None),
        ("Service Provider", None),
        ("Service Fee", "fee"),
        ("Duration", "duration"),
        ("Client Payment Status", None),
    ],
)
def test_column_names_decide_what_is_kept(header, kind):
    assert column_kind(header) == kind


@pytest.mark.parametrize(
    ("service", "minutes"),
    [
        ("90837 Psychotherapy, 60 min", 60),
        ("90834", 45),
        ("90832 Psychotherapy", 30),
        ("90837 + 90785", 60),
        ("Couples intensive, 3 hours", 180),
        ("Individual 50-minute session", 50),
        ("1 hr 30 min", 90),
        ("0:45 check-in", 45),
        ("90791 Intake", None),  # the intake code states no time
        ("Workbook", None),
        ("Session 1 of 6", None),
    ],
)
def test_a_service_states_its_length_in_words_or_by_its_code(service, minutes):
    assert minutes_of_service(service) == minutes


THERAPYNOTES_STYLE = """Date of Service,Patient,Service,Fee
2026-05-04,Quinn Holloway,90837 Psychotherapy, 60 min,$180.00
2026-05-05,Quinn Holloway,90834 Psychotherapy,$150.00
2026-05-06,Rae Lindgren,"Couples intensive, 3 hours",$540.00
2026-05-07,Rae Lindgren,90791 Psychiatric Diagnostic Evaluation,$200.00
"""


def test_lengths_come_from_the_service_when_there_is_no_duration_column(web, creator):
    export = THERAPYNOTES_STYLE.replace("90837 Psychotherapy, 60 min", '"90837 Psychotherapy, 60 min"')
    preview = upload(web, export).get_data(as_text=True)
    values = form_values(preview)
    assert values["service"] == "2" and values["duration"] == ""  # the Service column, read for its lengths
    for word in ("Holloway", "Lindgren", "Psychotherapy", "intensive", "Diagnostic"):
        assert word not in preview and word not in carried(web, values["kept"]), word
    confirm(web, preview)
    assert [(row.session_date.day, row.minutes_each) for row in imported(creator)] == [
        (4, 60),
        (5, 45),
        (6, 180),
        (7, 45),  # the intake states no length: the creator's usual 45 minutes
    ]


SIMPLEPRACTICE_STYLE = """Date of Service,Client,Appointment Status,Service,Fee,Payer
06/01/2026,Avery Quill,Show,90837 Psychotherapy,$180.00,Self-pay
06/02/2026,Blair Ormond,Late Canceled,90834 Psychotherapy,$75.00,Self-pay
06/03/2026,Casey Ferrol,No Show,90834 Psychotherapy,$0.00,Self-pay
06/04/2026,Devon Pratt,Canceled,90834 Psychotherapy,$150.00,Self-pay
06/05/2026,Emery Stroud,Scheduled,90834 Psychotherapy,$150.00,Self-pay
06/06/2026,Avery Quill,Show,90834 Psychotherapy,$150.00,Cigna
06/08/2026,Avery Quill,Show,Refund,($25.00),Self-pay
06/09/2026,Finley Moss,Rescheduled,90834 Psychotherapy,$150.00,Self-pay
"""


def test_only_attended_appointments_are_sessions_and_fees_and_refunds_are_their_own_lines(web, client, creator):
    preview = upload(web, SIMPLEPRACTICE_STYLE).get_data(as_text=True)
    values = form_values(preview)
    assert values["status"] == "2" and values["service"] == "3"
    shown = " ".join(unescape(re.sub(r"<[^>]+>", " ", preview)).split())
    assert "4 rows ready" in shown
    assert "1 late-cancel or no-show fee ($75): income, not sessions." in shown
    assert "1 refund or adjustment (-$25): taken from the income of their month." in shown
    assert "4 canceled or not yet held appointments left out." in shown
    for name in ("Avery", "Quill", "Ormond", "Ferrol", "Pratt", "Stroud", "Finley", "Late Canceled", "Rescheduled"):
        assert name not in preview and name not in carried(web, values["kept"]), name
    confirm(web, preview)
    rows = [(r.session_date.day, r.kind, r.sessions, r.minutes_each, r.amount_cents) for r in imported(creator)]
    assert sorted(rows) == [
        (1, SessionIncomeKind.SESSION, 1, 60, 18000),
        (2, SessionIncomeKind.MISSED, 0, 0, 7500),
        (6, SessionIncomeKind.SESSION, 1, 45, 15000),
        (8, SessionIncomeKind.ADJUSTMENT, 0, 0, -2500),
    ]
    revenue = client.get("/studio/revenue?from=2026-06&to=2026-06").get_data(as_text=True)
    assert "and $75 in late-cancel and no-show fees, not counted as sessions" in revenue
    # Re-importing the same file adds nothing, fees and refunds included.
    confirm(web, upload(web, SIMPLEPRACTICE_STYLE).get_data(as_text=True))
    assert len(imported(creator)) == 4


@pytest.mark.parametrize(
    ("status", "meaning"),
    [
        ("Show", "held"),
        ("Attended", "held"),
        ("Checked Out", "held"),
        ("", "held"),
        ("Late Cancel", "missed"),
        ("Late cancellation (fee)", "missed"),
        ("No-Show", "missed"),
        ("DNA", "missed"),
        ("Canceled", "canceled"),
        ("Cancelled by client", "canceled"),
        ("Rescheduled", "canceled"),
        ("Scheduled", "pending"),
        ("Unconfirmed", "pending"),
        ("Zoom link sent", "unknown"),
    ],
)
def test_an_appointment_status_is_read_for_what_it_means(status, meaning):
    assert status_of(status) == meaning


def test_the_suggested_fee_is_the_lines_fee_not_what_is_still_owed(app):
    kept = read_export(b"Date,Total balance,Fee,Copay\n2026-03-02,$40.00,$150.00,$20.00\n")
    assert kept.headers[kept.suggestions()["fee"]] == "Fee"


def test_a_file_whose_only_money_is_a_session_rate_is_imported(web, creator):
    preview = upload(web, "Date,Session Rate\n2026-03-02,$150.00\n2026-03-03,$150.00\n").get_data(as_text=True)
    assert "2 rows ready" in preview
    confirm(web, preview)
    assert [row.amount_cents for row in imported(creator)] == [15000, 15000]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", PayerKind.SELF_PAY),
        ("Self-pay", PayerKind.SELF_PAY),
        ("Private Pay", PayerKind.SELF_PAY),
        ("Sliding scale", PayerKind.SLIDING_SCALE),
        ("Aetna", PayerKind.INSURANCE),
        ("Medicaid", PayerKind.INSURANCE),
        ("N/A", PayerKind.SELF_PAY),
        ("Patient", PayerKind.SELF_PAY),
        ("Venmo", PayerKind.SELF_PAY),
        ("Zelle", PayerKind.SELF_PAY),
        ("Check", PayerKind.SELF_PAY),
        ("Visa", PayerKind.SELF_PAY),
        ("Pro bono", PayerKind.SLIDING_SCALE),
        ("Blue Cross Blue Shield of Illinois", PayerKind.INSURANCE),
        ("Optum EAP", PayerKind.INSURANCE),
        ("Jordan Checkley", None),  # a person's name names no kind of payment (nor does "Check" inside it)
        ("Dr. Ana Ruiz", None),
        ("Blue Mountain Family", None),
    ],
)
def test_payer_values_become_a_payer_kind_only_by_their_words(text, kind):
    assert payer_kind_of(text) is kind


JANE_STYLE = """Date,Patient,Payer,Item,Amount
2026-04-01,Jordan Checkley,Jordan Checkley,Individual Session,$150.00
2026-04-02,Sam Okafor,Priya Okafor,Individual Session,$150.00
2026-04-03,Lee Park,Cigna,Individual Session,$120.00
2026-04-04,Ana Ruiz,Venmo,Individual Session,$150.00
"""


def test_payers_that_are_peoples_names_count_as_the_creators_choice_and_are_never_kept(web, creator):
    preview = upload(web, JANE_STYLE).get_data(as_text=True)
    assert "2 rows named no kind of payment and count as self-pay." in preview
    values = form_values(preview)
    assert values["payer"] == "2" and values["unknown_payer"] == "self_pay"
    for name in ("Checkley", "Okafor", "Priya", "Ruiz"):
        assert name not in preview and name not in carried(web, values["kept"]), name
    changed = web.client.post(
        "/studio/sessions/import/confirm", data={**values, "unknown_payer": "insurance", "preview": "1"}
    ).get_data(as_text=True)
    assert "2 rows named no kind of payment and count as insurance." in changed
    confirm(web, changed)
    assert [row.payer_kind for row in imported(creator)] == [
        PayerKind.INSURANCE,  # Jordan Checkley, as chosen
        PayerKind.INSURANCE,  # Priya Okafor, as chosen
        PayerKind.INSURANCE,  # Cigna
        PayerKind.SELF_PAY,  # Venmo
    ]


def test_european_amounts_in_a_windows_semicolon_export_are_imported_as_written(web, creator):
    creator.currency = "EUR"
    db.session.flush()
    export = (
        "Date of Service;Client;Service;Fee\r\n"
        "03.02.2026;Jürgen Ölz;Psychotherapie 50 Min.;90,00 €\r\n"
        "10.02.2026;Zoë Brandt;Psychotherapie 50 Min.;1.234,50 €\r\n"
        "17.02.2026;Zoë Brandt;Psychotherapie 50 Min.;EUR 95\r\n"
    ).encode("cp1252")
    preview = upload(web, export).get_data(as_text=True)
    assert "3 rows ready" in preview, preview
    confirm(web, preview)
    assert [(row.session_date, row.amount_cents, row.currency) for row in imported(creator)] == [
        (date(2026, 2, 3), 9000, "EUR"),
        (date(2026, 2, 10), 123450, "EUR"),
        (date(2026, 2, 17), 9500, "EUR"),
    ]
    assert not any(name in str(row.__dict__) for row in imported(creator) for name in ("Jürgen", "Zoë"))


def test_aqueducts_own_dollar_formats_are_read_and_another_currency_is_a_problem(web, creator):
    creator.currency = "CAD"
    db.session.flush()
    export = "Date,Fee\n2026-03-02,CA$150.00\n2026-03-03,$140\n2026-03-04,A$150\n2026-03-05,150\n"
    preview = upload(web, export).get_data(as_text=True)
    assert "3 rows ready, 1 with problems" in preview
    assert "is in AUD; your session income is kept in CAD" in unescape(preview)
    page = confirm(web, preview, skip_bad="y").get_data(as_text=True)
    assert [row.amount_cents for row in imported(creator)] == [15000, 14000, 15000], page


def test_an_imported_fee_is_listed_by_its_kind_and_deleted_not_edited(web, creator):
    confirm(web, upload(web, SIMPLEPRACTICE_STYLE).get_data(as_text=True))
    listing = web.client.get("/studio/sessions?month=2026-06").get_data(as_text=True)
    assert "Late-cancel and no-show fee" in listing and "Refund or adjustment" in listing
    fee = next(row for row in imported(creator) if row.kind is SessionIncomeKind.MISSED)
    assert f"/studio/sessions/{fee.id}/edit" not in listing
    answer = web.client.get(f"/studio/sessions/{fee.id}/edit", follow_redirects=True).get_data(as_text=True)
    assert "delete it and import the corrected file" in answer
    assert imported(creator)[1].amount_cents == 7500  # unchanged


@pytest.mark.parametrize(
    "export",
    [
        # A quote that never closes runs the rest of the file into the fee cell.
        'Date,Fee,Client,Diagnosis\n2026-03-02,"150,Jane Quartermaine,F41.1\n2026-03-03,150,Rob Okonkwo,F32.1\n',
        # A "Session" column read as a count holds a name with a digit in it.
        "Date,Fee,Session\n2026-03-02,150,Jane Quartermaine #4 (F41.1)\n",
    ],
)
def test_a_mapped_cell_that_holds_more_than_a_value_is_not_carried(web, creator, export):
    preview = upload(web, export).get_data(as_text=True)
    kept = carried(web, form_values(preview)["kept"])
    for trace in ("Quartermaine", "Okonkwo", "F41.1", "F32.1"):
        assert trace not in kept and trace not in preview, trace


def test_a_refund_on_a_canceled_line_counts_and_a_late_cancellation_is_a_fee(web, creator):
    export = (
        "Date,Fee,Status\n2026-03-02,150,Attended\n2026-03-03,-150,Canceled\n"
        "2026-03-04,40,Cancelled (late)\n2026-03-05,150,Late arrival\n"
    )
    confirm(web, upload(web, export).get_data(as_text=True))
    assert [(r.session_date.day, r.kind, r.amount_cents) for r in imported(creator)] == [
        (2, SessionIncomeKind.SESSION, 15000),
        (3, SessionIncomeKind.ADJUSTMENT, -15000),  # a prepaid session refunded
        (4, SessionIncomeKind.MISSED, 4000),
        (5, SessionIncomeKind.SESSION, 15000),
    ]


def test_importing_again_with_another_choice_for_unnamed_payers_adds_nothing(web, creator):
    export = "Date,Fee,Payer\n2026-03-02,150,Jane Roe\n2026-03-03,150,Lyra Health\n"
    confirm(web, upload(web, export).get_data(as_text=True))
    again = upload(web, export).get_data(as_text=True)
    page = confirm(web, again, unknown_payer="insurance").get_data(as_text=True)
    assert "<dt>Imported</dt><dd>0</dd>" in page
    assert [r.payer_kind for r in imported(creator)] == [PayerKind.SELF_PAY, PayerKind.INSURANCE]


def test_a_payment_status_column_counts_its_lines_as_sessions_held(web, creator):
    preview = upload(web, "Date,Fee,Status\n2026-03-02,150,Unpaid\n2026-03-03,150,Paid\n").get_data(as_text=True)
    assert "2 rows ready" in preview


def test_rows_like_entries_already_logged_are_pointed_out_before_importing(web, creator):
    SessionIncomeFactory(creator=creator, session_date=date(2026, 3, 2), amount_cents=15000, import_key="earlier")
    preview = upload(web, "Date,Fee\n2026-03-02,150\n2026-03-03,150\n").get_data(as_text=True)
    shown = " ".join(unescape(re.sub(r"<[^>]+>", " ", preview)).split())
    assert "Check for repeats: 1 row matches an entry you already have on the same day for the same amount" in shown
    confirm(web, preview)
    again = upload(web, "Date,Fee\n2026-03-02,150\n2026-03-03,150\n").get_data(as_text=True)
    assert "Check for repeats" not in again  # what this file imported is known by its fingerprint


JANE_SALES = """Date,Patient,Item,Amount
2026-07-01,Noor Haddad,Individual Psychotherapy (60 min),€90.00
2026-07-01,Noor Haddad,90785 Interactive Complexity,€15.00
2026-07-02,Ilse Varga,6-Session Package,€450.00
2026-07-03,Ilse Varga,Grounding Workbook,€24.00
2026-07-06,Ilse Varga,Individual Psychotherapy (60 min),€90.00
"""


def test_add_ons_are_income_and_packages_and_products_are_not_sessions(web, creator):
    creator.currency = "EUR"
    db.session.flush()
    preview = upload(web, JANE_SALES).get_data(as_text=True)
    assert form_values(preview)["service"] == "2"
    shown = " ".join(unescape(re.sub(r"<[^>]+>", " ", preview)).split())
    assert "1 add-on charge (€15): income, not sessions." in shown
    assert "2 package or product sales left out: not session income." in shown
    confirm(web, preview)
    rows = [(r.session_date.day, r.kind, r.sessions, r.minutes_each, r.amount_cents) for r in imported(creator)]
    assert rows == [  # by date, then amount
        (1, SessionIncomeKind.ADDON, 0, 0, 1500),
        (1, SessionIncomeKind.SESSION, 1, 60, 9000),
        (6, SessionIncomeKind.SESSION, 1, 60, 9000),
    ]
    # €195 of 1:1 income for two sessions: the package (€450) and the workbook (€24) are not part of it.
    assert sum(row[4] for row in rows) == 19500


@pytest.mark.parametrize(
    ("service", "nature"),
    [
        ("90837 Psychotherapy", "session"),
        ("90837 + 90785", "session"),  # a session with its add-on on one line
        ("90785 Interactive Complexity", "addon"),
        ("Crisis add-on, 30 min", "session"),  # it states a length: a session
        ("6-Session Package", "package"),
        ("Prepaid bundle of 4", "package"),
        ("Grounding Workbook", "product"),
        ("Gift card", "product"),
        ("Couples session", "session"),
    ],
)
def test_a_service_line_is_told_apart_by_what_it_sold(service, nature):
    assert nature_of_service(service) == nature


def test_an_export_that_overlaps_a_month_replaces_it_after_a_warning(web, creator):
    # March came in from last month's export; this month's export covers March again, corrected.
    confirm(web, upload(web, "Date,Fee,Duration\n2026-03-02,150,50\n2026-03-09,150,50\n").get_data(as_text=True))
    SessionIncomeFactory(
        creator=creator,
        session_date=date(2026, 4, 1),
        sessions=20,
        amount_cents=300000,
        source=SessionIncomeSource.MONTHLY,
        import_key="monthly-april",
    )
    export = "Date,Fee,Duration\n2026-03-02,150,50\n2026-03-09,160,50\n2026-03-16,150,50\n2026-04-06,150,50\n"
    preview = upload(web, export).get_data(as_text=True)
    shown = " ".join(unescape(re.sub(r"<[^>]+>", " ", preview)).split())
    assert "Already logged within this file's dates: March 2026 (1 line), April 2026 (1 line), from another" in shown
    page = confirm(web, preview).get_data(as_text=True)
    assert "<dt>Replaced</dt><dd>2</dd>" in page and "<dt>Already there</dt><dd>1</dd>" in page
    assert [(r.session_date.day, r.amount_cents, r.source) for r in imported(creator)] == [
        (2, 15000, SessionIncomeSource.IMPORT),
        (9, 16000, SessionIncomeSource.IMPORT),  # the corrected line, not both
        (16, 15000, SessionIncomeSource.IMPORT),
        (6, 15000, SessionIncomeSource.IMPORT),  # April's rows replace its month total
    ]
    # The same export again adds and replaces nothing.
    again = confirm(web, upload(web, export).get_data(as_text=True)).get_data(as_text=True)
    assert "<dt>Imported</dt><dd>0</dd>" in again and "Replaced" not in again


def test_an_export_of_the_last_weeks_replaces_only_the_days_it_covers(web, creator):
    confirm(web, upload(web, "Date,Fee\n2026-03-02,150\n2026-03-20,150\n").get_data(as_text=True))
    later = "Date,Fee\n2026-03-15,150\n2026-03-20,170\n2026-04-03,150\n"  # "the last 30 days", corrected
    confirm(web, upload(web, later).get_data(as_text=True))
    assert [(r.session_date.day, r.amount_cents) for r in imported(creator)] == [
        (2, 15000),  # before this file's first day: kept
        (15, 15000),
        (20, 17000),  # the corrected line replaced the earlier one
        (3, 15000),
    ]


def test_a_line_the_import_replaces_is_not_also_called_a_repeat(web, creator):
    confirm(web, upload(web, "Date,Fee,Duration\n2026-03-02,150,50\n").get_data(as_text=True))
    # The same session, read with another length: a new fingerprint, replacing the earlier line.
    preview = upload(web, "Date,Fee,Duration\n2026-03-02,150,45\n").get_data(as_text=True)
    assert "Already logged within this file" in preview and "Check for repeats" not in preview
    confirm(web, preview)
    assert [(r.minutes_each, r.amount_cents) for r in imported(creator)] == [(45, 15000)]
