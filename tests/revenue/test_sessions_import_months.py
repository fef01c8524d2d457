"""Keeping monthly totals only (the default), reports of monthly totals, income split by payer, and the
preview's account of every column."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import PayerKind, SessionIncomeKind, SessionIncomeSource

from ..factories import SessionIncomeFactory
from .test_sessions_import import CLIENT_TRACES, EXPORT, confirm, creator, form_values, imported, upload

__all__ = ["creator"]  # the fixture, shared


def shown(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def stored(profile) -> list[tuple]:
    return [
        (r.session_date, r.sessions, r.minutes_each, r.amount_cents, r.payer_kind, r.kind, r.source)
        for r in sorted(
            imported(profile), key=lambda r: (r.session_date, r.payer_kind.value, r.kind.value, r.minutes_each)
        )
    ]


MONTH = SessionIncomeSource.IMPORT_MONTH
SESSION = SessionIncomeKind.SESSION


def test_an_import_keeps_monthly_totals_only_unless_asked_and_says_so(web, creator):
    page = upload(web, EXPORT, keep="months").get_data(as_text=True)
    assert form_values(page)["keep"] == "months"
    assert "no date of any client's session is kept, only the month" in shown(page)
    assert "4 rows ready. Kept as 4 monthly totals:" in shown(page)
    report = confirm(web, page).get_data(as_text=True)
    assert "<dt>Imported</dt><dd>4</dd>" in report
    assert stored(creator) == [
        (date(2026, 3, 1), 1, 50, 125000, PayerKind.INSURANCE, SESSION, MONTH),
        (date(2026, 3, 1), 1, 90, 12000, PayerKind.INSURANCE, SESSION, MONTH),
        (date(2026, 3, 1), 1, 50, 15000, PayerKind.SELF_PAY, SESSION, MONTH),
        (date(2026, 3, 1), 1, 50, 15000, PayerKind.SLIDING_SCALE, SESSION, MONTH),
    ]
    # No day of a session anywhere: not in the table, not in the job that carried the rows.
    days = {str(value) for row in db.session.execute(sa.text("SELECT * FROM session_income")).all() for value in row}
    assert not {"2026-03-02", "2026-03-03", "2026-03-05"} & days
    payload = " ".join(str(row[0]) for row in db.session.execute(sa.text("SELECT payload FROM jobs")).all())
    assert "2026-03-02" not in payload and "2026-03-05" not in payload


def test_lines_of_one_month_payer_and_length_add_up_to_one_total(web, creator):
    export = (
        "Date,Fee,Duration,Payer\n2026-03-02,150,50,\n2026-03-09,150,50,Cash\n2026-03-20,-25,50,\n2026-04-01,150,50,\n"
    )
    confirm(web, upload(web, export, keep="months").get_data(as_text=True))
    assert stored(creator) == [
        (date(2026, 3, 1), 0, 0, -2500, PayerKind.SELF_PAY, SessionIncomeKind.ADJUSTMENT, MONTH),
        (date(2026, 3, 1), 2, 50, 30000, PayerKind.SELF_PAY, SESSION, MONTH),
        (date(2026, 4, 1), 1, 50, 15000, PayerKind.SELF_PAY, SESSION, MONTH),
    ]


def test_monthly_totals_imported_again_add_nothing_and_a_corrected_file_replaces_its_months(web, creator):
    export = "Date,Fee\n2026-03-02,150\n2026-03-09,150\n"
    confirm(web, upload(web, export, keep="months").get_data(as_text=True))
    again = confirm(web, upload(web, export, keep="months").get_data(as_text=True)).get_data(as_text=True)
    assert "<dt>Imported</dt><dd>0</dd>" in again and "<dt>Already there</dt><dd>1</dd>" in again
    assert "Replaced" not in again
    corrected = upload(web, "Date,Fee\n2026-03-02,150\n2026-03-09,170\n", keep="months").get_data(as_text=True)
    assert "Already logged within this file's dates: March 2026 (1 line; this file has Mar 2 to Mar 9)" in shown(
        corrected
    )
    assert "Replace what they hold: this file has the whole of those months" in shown(corrected)
    assert form_values(corrected)["overlap"] == "replace"
    assert "<dt>Replaced</dt><dd>1</dd>" in confirm(web, corrected).get_data(as_text=True)
    assert [(r.sessions, r.amount_cents) for r in imported(creator)] == [(2, 32000)]


def test_the_second_half_of_a_month_is_added_to_the_first_when_the_creator_says_it_continues_it(web, creator):
    first, second = "Date,Fee\n2026-03-02,150\n2026-03-09,150\n", "Date,Fee\n2026-03-16,150\n2026-03-23,150\n"
    confirm(web, upload(web, first, keep="months").get_data(as_text=True))
    page = upload(web, second, keep="months").get_data(as_text=True)
    assert "March 2026 (1 line; this file has Mar 16 to Mar 23)" in shown(page)
    confirm(web, page, overlap="add")
    assert sorted((r.sessions, r.amount_cents) for r in imported(creator)) == [(2, 30000), (2, 30000)]
    # Either file added again counts nothing twice: the month holds its contribution already.
    for again in (first, second):
        report = confirm(web, upload(web, again, keep="months").get_data(as_text=True), overlap="add")
        assert "<dt>Imported</dt><dd>0</dd>" in report.get_data(as_text=True), again
    assert sum(r.amount_cents for r in imported(creator)) == 60000
    # Replacing says the file is the whole month: March keeps the first file's sessions only, as the page said.
    report = confirm(web, upload(web, first, keep="months").get_data(as_text=True), overlap="replace")
    assert "<dt>Already there</dt><dd>1</dd>" in report.get_data(as_text=True)
    assert [(r.sessions, r.amount_cents) for r in imported(creator)] == [(2, 30000)]


def test_adding_to_a_month_with_another_choice_for_unnamed_payers_counts_nothing_twice(web, creator):
    export = "Date,Fee,Payer\n2026-03-02,150,J. Doe\n"
    confirm(web, upload(web, export, keep="months").get_data(as_text=True))
    confirm(web, upload(web, export, keep="months").get_data(as_text=True), overlap="add", unknown_payer="insurance")
    assert [(r.amount_cents, r.payer_kind) for r in imported(creator)] == [(15000, PayerKind.SELF_PAY)]


def test_days_imported_later_replace_the_months_totals_they_touch_and_the_reverse(web, creator):
    SessionIncomeFactory(creator=creator, session_date=date(2026, 3, 4), amount_cents=9000)  # typed by hand: stays
    confirm(web, upload(web, "Date,Fee\n2026-03-02,150\n2026-03-09,150\n", keep="months").get_data(as_text=True))
    confirm(web, upload(web, "Date,Fee\n2026-03-16,150\n", keep="days").get_data(as_text=True))
    assert [(r.session_date.day, r.amount_cents, r.source) for r in imported(creator)] == [
        (4, 9000, SessionIncomeSource.MANUAL),
        (16, 15000, SessionIncomeSource.IMPORT),
    ]
    confirm(web, upload(web, "Date,Fee\n2026-03-02,150\n2026-03-16,150\n", keep="months").get_data(as_text=True))
    assert [(r.session_date.day, r.sessions, r.amount_cents, r.source) for r in imported(creator)] == [
        (1, 2, 30000, MONTH),
        (4, 1, 9000, SessionIncomeSource.MANUAL),
    ]


SIMPLEPRACTICE_INCOME_BY_MONTH = """\ufeffOverall Income by Month,,,
"Jan 1, 2026 - Apr 30, 2026",,,
Month,Client Payments,Insurance Payments,Total Income\r
January 2026,"$4,200.00","$1,800.00","$6,000.00"\r
February 2026,"$3,900.00",$0.00,"$3,900.00"\r
March 2026,"$4,500.00","$2,250.00","$6,750.00"\r
Total,"$12,600.00","$4,050.00","$16,650.00"\r
"""


def test_a_report_of_monthly_totals_is_imported_month_by_month_and_payer_by_payer(web, creator):
    creator.default_session_fee_cents = 15000
    db.session.commit()
    page = upload(web, SIMPLEPRACTICE_INCOME_BY_MONTH, keep="months").get_data(as_text=True)
    values = form_values(page)
    headers = ["Month", "Client Payments", "Insurance Payments", "Total Income"]
    assert {t: headers[int(values[t])] for t in ("date", "fee", "insurance")} == {
        "date": "Month",
        "fee": "Client Payments",
        "insurance": "Insurance Payments",
    }
    text = shown(page)
    assert "This file holds a total for each month" in text
    assert "each month's sessions are its income at your usual fee of $150, rounded: 3 months estimated" in text
    assert "1 totals line left out" in text
    confirm(web, page)
    assert stored(creator) == [
        # $6,000 at $150 is 40 sessions, shared as the money was: 28 paid by the client, 12 by the insurer.
        (date(2026, 1, 1), 12, 45, 180000, PayerKind.INSURANCE, SESSION, MONTH),
        (date(2026, 1, 1), 28, 45, 420000, PayerKind.SELF_PAY, SESSION, MONTH),
        (date(2026, 2, 1), 26, 45, 390000, PayerKind.SELF_PAY, SESSION, MONTH),
        (date(2026, 3, 1), 15, 45, 225000, PayerKind.INSURANCE, SESSION, MONTH),
        (date(2026, 3, 1), 30, 45, 450000, PayerKind.SELF_PAY, SESSION, MONTH),
    ]
    again = confirm(web, upload(web, SIMPLEPRACTICE_INCOME_BY_MONTH, keep="months").get_data(as_text=True))
    assert "<dt>Imported</dt><dd>0</dd>" in again.get_data(as_text=True)


def test_a_months_total_with_its_count_of_appointments_takes_the_count(web, creator):
    report = 'Month,Appointments,Income\n2026-01,38,"$5,700.00"\n2026-02,35,"$5,250.00"\n'
    confirm(web, upload(web, report, keep="days").get_data(as_text=True))
    assert [(r.session_date, r.sessions, r.amount_cents, r.source) for r in imported(creator)] == [
        (date(2026, 1, 1), 38, 570000, MONTH),  # a month's total is a month's total, whatever is kept
        (date(2026, 2, 1), 35, 525000, MONTH),
    ]


def test_a_months_total_without_a_count_nor_a_usual_fee_is_a_problem_that_says_what_to_do(web, creator):
    creator.default_session_fee_cents = 0
    db.session.commit()
    page = upload(web, 'Month,Income\nJanuary 2026,"$5,700.00"\n', keep="months").get_data(as_text=True)
    assert (
        "This month's total has no number of sessions: choose the column that counts them, or set your usual fee"
        in shown(page)
    )


def test_a_copay_and_an_insurers_payment_for_one_session_are_one_insured_session(web, creator):
    export = "Date,Client Paid,Insurance Paid\n2026-03-02,$20.00,$95.00\n2026-03-03,$150.00,\n"
    page = upload(web, export).get_data(as_text=True)
    values = form_values(page)
    assert (values["fee"], values["insurance"]) == ("1", "2")
    confirm(web, page)
    assert [(r.session_date.day, r.sessions, r.amount_cents, r.payer_kind) for r in imported(creator)] == [
        (2, 1, 11500, PayerKind.INSURANCE),
        (3, 1, 15000, PayerKind.SELF_PAY),
    ]


def test_a_file_with_a_fee_charged_keeps_the_fee_and_splits_nothing(web, creator):
    page = upload(web, "Date,Fee,Client Paid,Insurance Paid\n2026-03-02,150,20,95\n").get_data(as_text=True)
    values = form_values(page)
    assert (values["fee"], values["insurance"]) == ("1", "")


def test_the_preview_says_how_each_column_was_read_and_why(web, creator):
    page = shown(upload(web, EXPORT).get_data(as_text=True))
    for expected in (
        "Date of Service Date of the session “Date” in its name",
        "Client Dropped “Client” alone names a person",
        "Date of Birth Dropped “Birth” in its name says it may identify a client or hold a note",
        "Diagnosis Dropped “Diagnosis” in its name says it may identify a client or hold a note",
        "Fee Fee “Fee” in its name",
        "Units Dropped billing units count what was billed, not sessions",
        "Payer Payer “Payer” in its name: kept only as self-pay, insurance or sliding scale",
    ):
        assert expected in page, expected
    for trace in CLIENT_TRACES:
        assert trace not in page, trace


def test_the_sessions_date_is_suggested_over_an_invoices_or_a_payments(web, creator):
    export = "Invoice Date,Payment Date,Session Date,Amount\n2026-04-01,2026-04-03,2026-03-25,150\n"
    assert form_values(upload(web, export).get_data(as_text=True))["date"] == "2"
    # A report of payments alone is still read by its payment date.
    assert form_values(upload(web, "Payment Date,Amount\n2026-04-03,150\n").get_data(as_text=True))["date"] == "0"


def test_a_missed_appointments_fee_is_the_clients_even_on_an_insured_line(web, creator):
    export = "Date,Status,Fee,Payer\n2026-03-02,No Show,$75.00,Aetna\n2026-03-03,Show,$120.00,Aetna\n"
    confirm(web, upload(web, export).get_data(as_text=True))
    assert [(r.kind, r.payer_kind, r.amount_cents) for r in imported(creator)] == [
        (SessionIncomeKind.MISSED, PayerKind.SELF_PAY, 7500),  # insurers don't pay for missed appointments
        (SESSION, PayerKind.INSURANCE, 12000),
    ]


def test_a_session_held_but_not_billed_is_a_session(web, creator):
    confirm(web, upload(web, "Date,Attendance,Fee\n2026-03-02,Non-Billable,$0.00\n").get_data(as_text=True))
    assert [(r.kind, r.sessions, r.amount_cents) for r in imported(creator)] == [(SESSION, 1, 0)]
