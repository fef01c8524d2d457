"""Hostile input against monthly totals, the insurance split and month reports: no client name or day is
kept, no total overflows, no line breaks a constraint."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Job, SessionIncomeKind, SessionIncomeSource
from courseplatform.revenue.session_import import Mapping, _shares, monthly_totals, parse_rows, read_export

from ..factories import SessionIncomeFactory
from .test_sessions_import import confirm, creator, imported, upload

__all__ = ["creator"]

S, M, A = SessionIncomeKind.SESSION, SessionIncomeKind.MISSED, SessionIncomeKind.ADJUSTMENT


def _parse(kept, **mapping):
    return parse_rows(
        kept, Mapping(**mapping), default_minutes=50, today=date(2026, 12, 6), currency="USD", usual_fee_cents=15000
    )


# --- money ---------------------------------------------------------------------------------------------


def test_shares_sessions_always_sum_to_the_count():
    for count in (1, 2, 3, 7, 1000):
        for a, b in ((1, 1), (1, 2), (2000, 9500), (0, 5), (5, 0), (1, 10**8), (10**8, 1)):
            rows = _shares([(a, None), (b, "insurance")], [S, S], count)
            assert sum(r[2] for r in rows) == count, (count, a, b, rows)
            assert sum(r[0] for r in rows) == a + b
            assert all(r[2] > 0 for r in rows if r[1] is S), rows


def test_a_no_show_without_a_fee_nor_insurance_payment_is_left_out_like_without_an_insurance_column(app):
    data = b"Date,Status,Client Paid,Insurance Paid\n2026-03-02,No show,0,0\n2026-03-03,No show,,0\n"
    kept = read_export(data)
    parsed = _parse(kept, date=0, status=1, fee=2, insurance=3)
    assert parsed.rows == [] and parsed.not_held == 2, parsed.rows


def test_a_month_of_big_lines_adds_up_within_what_the_database_holds(web, creator):
    # Each line is allowed ($1,000,000 is the parser's cap), the month's total is not an int4.
    export = "Date,Fee\n" + "".join(f'2026-03-{d:02d},"$1,000,000.00"\n' for d in range(1, 23))
    page = upload(web, export, keep="months").get_data(as_text=True)
    report = confirm(web, page).get_data(as_text=True)
    assert "This import couldn't be finished" not in report
    assert "<dt>Imported</dt>" in report


# --- privacy -------------------------------------------------------------------------------------------


def test_months_only_keeps_no_day_of_a_session_in_the_job_even_for_skipped_lines(web, creator):
    export = "Date,Fee\n2026-03-02,150\n2026-12-21,150\n1999-03-04,150\n"
    page = upload(web, export, keep="months").get_data(as_text=True)
    report = confirm(web, page, skip_bad="y").get_data(as_text=True)
    assert "<dt>Imported</dt><dd>1</dd>" in report
    payload = " ".join(str(job.payload) for job in db.session.scalars(sa.select(Job)))
    for day in ("2026-12-21", "1999-03-04", "2026-03-02"):
        assert day not in payload, day


# --- idempotency / replacement -------------------------------------------------------------------------


def test_hand_typed_entries_are_never_replaced(web, creator):
    SessionIncomeFactory(creator=creator, session_date=date(2026, 3, 1), amount_cents=9000)
    confirm(web, upload(web, "Month,Sessions,Income\n2026-03,2,300\n", keep="months").get_data(as_text=True))
    confirm(web, upload(web, "Date,Fee\n2026-03-01,150\n", keep="days").get_data(as_text=True))
    assert SessionIncomeSource.MANUAL in {r.source for r in imported(creator)}


# --- privacy: header names ---------------------------------------------------------------------------

PIVOT = (
    "Income by Client,,,\n"
    "Month,Jane Quartermaine,Robert Okonkwo-Lindqvist,Total Income\n"
    "January 2026,$400.00,$300.00,$700.00\n"
    "February 2026,$450.00,$150.00,$600.00\n"
    'Total,$850.00,$450.00,"$1,300.00"\n'
)


def test_a_report_with_a_column_per_client_keeps_no_clients_name(web, creator):
    creator.default_session_fee_cents = 15000
    db.session.commit()
    page = upload(web, PIVOT, keep="months").get_data(as_text=True)
    report = confirm(web, page).get_data(as_text=True)
    assert "<dt>Imported</dt><dd>2</dd>" in report
    payload = " ".join(str(job.payload) for job in db.session.scalars(sa.select(Job)))
    for trace in ("Quartermaine", "Okonkwo"):
        assert trace not in payload, trace
        assert trace not in report, trace
        assert trace not in page, trace


def test_a_report_with_a_column_per_insurer_keeps_no_insurers_name(web, creator):
    creator.default_session_fee_cents = 15000
    db.session.commit()
    export = "Month,Aetna,BCBS,Self-pay,Total\nJanuary 2026,$400.00,$300.00,$100.00,$800.00\n"
    page = upload(web, export, keep="months").get_data(as_text=True)
    confirm(web, page)
    payload = " ".join(str(job.payload) for job in db.session.scalars(sa.select(Job)))
    for trace in ("Aetna", "BCBS"):
        assert trace not in payload, trace


# --- hostile input -----------------------------------------------------------------------------------


def test_hostile_inputs_are_refused_or_problems(app):
    from courseplatform.revenue.session_import import SessionImportError

    for data in (
        b"Income by Month\nJan 1 - Mar 31\n",
        b"Date\n2026-03-02\n",
        b"Fee\n150\n",
        b"",
        b"\x00\x00\x00",
        b"Date,Fee\x00\n2026-03-02,150\n",
    ):
        with pytest.raises(SessionImportError):
            read_export(data)
    kept = read_export(
        b"Month,Sessions,Income\nDecember 9999,1,150\nJanuary 1999,1,150\n2026-03-02,1,150\nTotal,3,450\n"
        b"March 2026,1,150\nTotal,3,450\nMarch 2026,99999,150\n0/2026,1,150\n13/2026,1,150\n"
    )
    parsed = _parse(kept, date=0, count=1, fee=2)
    assert [(r.session_date, r.sessions, r.whole_month) for r in parsed.rows] == [
        (date(2026, 3, 2), 1, False),
        (date(2026, 3, 1), 1, True),
    ]
    assert parsed.totals_lines == 2 and len(parsed.bad) == 5


def test_huge_counts_kept_as_monthly_totals_keep_the_pages_working(web, client, creator):
    export = "Date,Fee,Sessions,Duration\n" + "2026-03-02,150,1000,600\n" * 3600
    report = confirm(web, upload(web, export, keep="months").get_data(as_text=True)).get_data(as_text=True)
    assert "This import couldn't be finished" not in report and "<dt>Imported</dt>" in report
    codes = {
        url: client.get(url).status_code
        for url in (
            "/studio/sessions",
            "/studio/revenue?from=2026-01&to=2026-06",
            "/studio/revenue.csv?from=2026-01&to=2026-06",
        )
    }
    assert set(codes.values()) == {200}, codes


def test_fuzzed_lines_never_break_the_check_constraints(app):
    import itertools

    statuses = ["", "No show", "Canceled", "Attended", "weird"]
    money = ["", "0", "100", "-40", "0.01", "($150.00)"]
    services = ["", "90785 interactive complexity", "90837"]
    lines = ["Date,Status,Client Paid,Insurance Paid,Sessions,Service"]
    for status, fee, ins, count, service in itertools.product(statuses, money, money, ["", "3"], services):
        lines.append(f'2026-03-02,{status},"{fee}","{ins}",{count},{service}')
    for month in (False, True):
        if month:
            lines = [line.replace("2026-03-02", "March 2026") for line in lines]
        kept = read_export("\n".join(lines).encode())
        parsed = _parse(kept, date=0, status=1, fee=2, insurance=3, count=4, service=5)
        for rows in (parsed.rows, monthly_totals(parsed.rows)):
            for r in rows:
                assert r.amount_cents >= 0 or r.kind is A, r
                if r.kind is S:
                    assert r.sessions > 0 and r.minutes_each > 0, r
                else:
                    assert r.sessions == 0 and r.minutes_each == 0, r
