"""Session income by hand: logging a day, a month in one line, editing and deleting; only the owner's rows."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import PayerKind, SessionIncome, SessionIncomeSource

from ..factories import PASSWORD, CreatorProfileFactory, SessionIncomeFactory
from ..helpers import csrf_token_from

ZONE = "Pacific/Auckland"  # far from UTC, so "today" differs from the server's on many hours of the day


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(
        user__email="maya@example.org",
        user__time_zone=ZONE,
        default_session_minutes=50,
        default_session_fee_cents=15000,
    )
    web.login("maya@example.org", PASSWORD)
    return profile


def local_today() -> date:
    return datetime.now(ZoneInfo(ZONE)).date()


def entries(profile) -> list[SessionIncome]:
    db.session.expire_all()  # the requests wrote through their own sessions
    return list(
        db.session.scalars(
            sa.select(SessionIncome).where(SessionIncome.creator_id == profile.id).order_by(SessionIncome.id)
        )
    )


def add(web, **data):
    values = {
        "session_date": "2026-03-05",
        "sessions": "3",
        "minutes_each": "50",
        "amount": "450",
        "payer_kind": "self_pay",
    }
    values.update(data)
    return web.submit("/studio/sessions", values)


def add_month(web, **data):
    values = {"month": "2026-03", "sessions": "62", "amount": "9,300", "minutes_each": "", "payer_kind": "self_pay"}
    values.update(data)
    token = csrf_token_from(web.client.get("/studio/sessions").get_data(as_text=True))
    fields = {f"monthly-{name}": value for name, value in values.items()}
    return web.client.post(
        "/studio/sessions/monthly", data={**fields, "monthly-csrf_token": token}, follow_redirects=True
    )


# ---------------------------------------------------------------------------
# The page and one day
# ---------------------------------------------------------------------------


def test_new_creator_sees_how_to_start_and_a_form_prefilled_with_today_and_their_usual_length(client, creator):
    page = client.get("/studio/sessions").get_data(as_text=True)
    assert "No session income yet" in page
    assert f'value="{local_today():%Y-%m-%d}"' in page
    assert re.search(r'<input id="minutes_each"[^>]*value="50"', page)
    assert "your usual fee is $150 a session" in page


def test_logging_a_day_stores_counts_minutes_money_and_shows_it_in_its_month(web, creator):
    page = add(web, amount="1,250.50", payer_kind="insurance").get_data(as_text=True)
    (entry,) = entries(creator)
    assert (entry.session_date, entry.sessions, entry.minutes_each, entry.amount_cents) == (
        date(2026, 3, 5),
        3,
        50,
        125050,
    )
    assert entry.payer_kind is PayerKind.INSURANCE and entry.currency == "USD"
    assert entry.source is SessionIncomeSource.MANUAL
    assert "Logged 3 sessions on Mar 5, 2026 ($1,250.50)." in page
    assert "March 2026" in page and "Insurance" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"session_date": "1999-12-31"}, "Enter a date from 2000 onwards."),
        ({"session_date": "05/03/2026x"}, "Enter a date such as 2026-03-05."),
        ({"sessions": "0"}, "Enter between 1 and 1,000 sessions."),
        ({"sessions": "1001"}, "Enter between 1 and 1,000 sessions."),
        ({"sessions": "two"}, "Enter a whole number."),
        ({"minutes_each": "4"}, "Enter between 5 and 600 minutes."),
        ({"minutes_each": "601"}, "Enter between 5 and 600 minutes."),
        ({"amount": ""}, "Enter the amount you were paid"),
        ({"amount": "-150"}, "The amount can&#39;t be negative."),
        ({"amount": "lots"}, "Enter an amount such as 150 or 150.00."),
        ({"amount": "2000000"}, "That amount is too large."),
        ({"payer_kind": "client"}, "Not a valid choice"),
    ],
)
def test_a_bad_entry_is_refused_with_a_clear_message_and_nothing_is_stored(web, creator, data, message):
    response = add(web, **data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert entries(creator) == []


def test_a_date_after_tomorrow_is_refused_but_tomorrow_is_allowed_for_zone_slack(web, creator):
    later = local_today() + timedelta(days=2)
    page = add(web, session_date=later.isoformat()).get_data(as_text=True)
    assert "That date is in the future." in page
    assert entries(creator) == []
    add(web, session_date=(local_today() + timedelta(days=1)).isoformat())
    assert len(entries(creator)) == 1


def test_sessions_given_for_free_can_be_logged_with_a_zero_amount(web, creator):
    add(web, amount="0")
    assert entries(creator)[0].amount_cents == 0


def test_the_month_view_totals_only_that_month(client, creator):
    SessionIncomeFactory(creator=creator, session_date=date(2026, 3, 1), sessions=2, amount_cents=30000)
    SessionIncomeFactory(
        creator=creator, session_date=date(2026, 3, 31), sessions=4, minutes_each=45, amount_cents=44000
    )
    SessionIncomeFactory(creator=creator, session_date=date(2026, 4, 1), sessions=9, amount_cents=99900)
    page = client.get("/studio/sessions?month=2026-03").get_data(as_text=True)
    assert "$740" in page  # 300 + 440
    assert "$999" not in page
    assert "<dd>6</dd>" in page  # sessions
    assert "<dd>4.7</dd>" in page  # (2×50 + 4×45) minutes = 4.67 hours
    everything = client.get("/studio/sessions").get_data(as_text=True)
    assert "$1,739" in everything and "All entries" in everything


def test_an_odd_month_in_the_address_lists_everything(client, creator):
    SessionIncomeFactory(creator=creator, session_date=date(2026, 3, 1))
    page = client.get("/studio/sessions?month=2026-13").get_data(as_text=True)
    assert "All entries" in page and "$150" in page


def test_entries_are_listed_newest_first_fifty_a_page(client, creator):
    for n in range(55):
        SessionIncomeFactory(creator=creator, session_date=date(2025, 1, 1) + timedelta(days=n), amount_cents=10000 + n)
    first = client.get("/studio/sessions").get_data(as_text=True)
    assert first.index("Feb 24, 2025") < first.index("Feb 23, 2025")
    assert "Jan 1, 2025" not in first and "Page 1 of 2" in first
    second = client.get("/studio/sessions?page=2").get_data(as_text=True)
    assert "Jan 1, 2025" in second and "Feb 24, 2025" not in second


# ---------------------------------------------------------------------------
# Edit and delete, own rows only
# ---------------------------------------------------------------------------


def test_editing_an_entry_changes_it(web, client, creator):
    entry = SessionIncomeFactory(creator=creator, session_date=date(2026, 3, 5))
    form = client.get(f"/studio/sessions/{entry.id}/edit").get_data(as_text=True)
    assert 'value="2026-03-05"' in form and 'value="150"' in form
    page = web.submit(
        f"/studio/sessions/{entry.id}/edit",
        {
            "session_date": "2026-03-06",
            "sessions": "2",
            "minutes_each": "45",
            "amount": "260",
            "payer_kind": "sliding_scale",
        },
    ).get_data(as_text=True)
    assert "Saved: 2 sessions on Mar 6, 2026 ($260)." in page
    db.session.refresh(entry)
    assert (entry.session_date, entry.sessions, entry.minutes_each, entry.amount_cents) == (
        date(2026, 3, 6),
        2,
        45,
        26000,
    )
    assert entry.payer_kind is PayerKind.SLIDING_SCALE


def test_an_invalid_edit_changes_nothing(web, creator):
    entry = SessionIncomeFactory(creator=creator, sessions=1)
    page = web.submit(
        f"/studio/sessions/{entry.id}/edit",
        {
            "session_date": "2026-03-05",
            "sessions": "0",
            "minutes_each": "50",
            "amount": "150",
            "payer_kind": "self_pay",
        },
    ).get_data(as_text=True)
    assert "Enter between 1 and 1,000 sessions." in page
    db.session.refresh(entry)
    assert entry.sessions == 1


def test_deleting_asks_first_then_removes_the_entry(web, client, creator):
    entry = SessionIncomeFactory(creator=creator, session_date=date(2026, 3, 5), sessions=2, amount_cents=30000)
    page = client.get("/studio/sessions").get_data(as_text=True)
    assert "Delete this entry?" in page
    done = web.submit(f"/studio/sessions/{entry.id}/delete", {}, form_url="/studio/sessions").get_data(as_text=True)
    assert "Deleted 2 sessions on Mar 5, 2026 ($300)." in done
    assert entries(creator) == []


def test_delete_without_the_form_token_is_refused(client, creator):
    entry = SessionIncomeFactory(creator=creator)
    assert client.post(f"/studio/sessions/{entry.id}/delete").status_code == 400
    assert len(entries(creator)) == 1


def test_another_creators_entries_are_not_found_nor_listed(web, client, creator):
    other = SessionIncomeFactory(amount_cents=77700)
    assert client.get(f"/studio/sessions/{other.id}/edit").status_code == 404
    token = csrf_token_from(client.get("/studio/sessions").get_data(as_text=True))
    assert client.post(f"/studio/sessions/{other.id}/delete", data={"csrf_token": token}).status_code == 404
    edit = {"csrf_token": token, "session_date": "2026-03-05", "sessions": "9", "minutes_each": "50", "amount": "1"}
    assert client.post(f"/studio/sessions/{other.id}/edit", data={**edit, "payer_kind": "self_pay"}).status_code == 404
    assert "$777" not in client.get("/studio/sessions").get_data(as_text=True)
    db.session.refresh(other)
    assert other.sessions == 1


def test_an_id_beyond_any_entry_is_not_found(client, creator):
    token = csrf_token_from(client.get("/studio/sessions").get_data(as_text=True))
    huge = "99999999999999999999999"
    assert client.get(f"/studio/sessions/{huge}/edit").status_code == 404
    assert client.post(f"/studio/sessions/{huge}/delete", data={"csrf_token": token}).status_code == 404


def test_session_pages_are_never_kept_in_a_browser_cache(client, creator):
    for url in ("/studio/sessions", "/studio/sessions/import", "/studio/revenue"):
        assert client.get(url).headers["Cache-Control"] == "private, no-store", url


def test_a_learner_is_sent_to_set_up_a_creator_profile(web, client):
    from ..factories import UserFactory

    UserFactory(email="sam@example.org")
    web.login("sam@example.org", PASSWORD)
    response = client.get("/studio/sessions")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/become-a-creator")


# ---------------------------------------------------------------------------
# A month in one line
# ---------------------------------------------------------------------------


def test_a_month_total_is_one_entry_dated_the_first(web, creator):
    page = add_month(web).get_data(as_text=True)
    (entry,) = entries(creator)
    assert (entry.session_date, entry.sessions, entry.amount_cents, entry.minutes_each) == (
        date(2026, 3, 1),
        62,
        930000,
        50,
    )
    assert entry.source is SessionIncomeSource.MONTHLY
    assert "Logged March 2026: 62 self-pay sessions, $9,300." in page


def test_entering_the_same_month_again_asks_then_replaces_never_double_counts(web, creator):
    add_month(web)
    page = add_month(web, sessions="64", amount="9600").get_data(as_text=True)
    assert "You already entered a self-pay total for March 2026: 62 sessions, $9,300. Saving replaces it." in page
    (entry,) = entries(creator)
    assert entry.sessions == 62
    page = add_month(web, sessions="64", amount="9600", confirm="y").get_data(as_text=True)
    assert "Replaced the total for March 2026" in page
    (entry,) = entries(creator)
    assert (entry.sessions, entry.amount_cents) == (64, 960000)


def test_a_month_with_daily_entries_warns_that_the_total_is_added_to_them(web, creator):
    SessionIncomeFactory(creator=creator, session_date=date(2026, 3, 9), sessions=3, amount_cents=45000)
    page = add_month(web).get_data(as_text=True)
    assert "March 2026 also has 1 other entry (3 sessions, $450)" in page
    assert len(entries(creator)) == 1
    add_month(web, confirm="y")
    assert len(entries(creator)) == 2


def test_insurance_and_self_pay_totals_for_one_month_are_kept_apart(web, creator):
    add_month(web)
    add_month(web, payer_kind="insurance", sessions="10", amount="1100")
    kinds = sorted(e.payer_kind.value for e in entries(creator))
    assert kinds == ["insurance", "self_pay"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"month": "March"}, "Enter a month such as 2026-03."),
        ({"month": "2026-13"}, "Enter a month such as 2026-03."),
        ({"month": "1999-12"}, "Enter a month such as 2026-03."),
        ({"sessions": "0"}, "Enter between 1 and 1,000 sessions."),
        ({"minutes_each": "2"}, "Enter between 5 and 600 minutes."),
        ({"amount": ""}, "Enter the amount you were paid"),
    ],
)
def test_a_bad_month_total_is_refused(web, creator, data, message):
    page = add_month(web, **data).get_data(as_text=True)
    assert message in page
    assert entries(creator) == []


def test_a_month_that_has_not_started_is_refused(web, creator):
    today = local_today()
    ahead = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    assert "That month hasn&#39;t started yet." in add_month(web, month=f"{ahead:%Y-%m}").get_data(as_text=True)


def test_editing_a_month_total_keeps_it_on_the_first(web, creator):
    add_month(web)
    (entry,) = entries(creator)
    web.submit(
        f"/studio/sessions/{entry.id}/edit",
        {
            "session_date": "2026-03-17",
            "sessions": "60",
            "minutes_each": "50",
            "amount": "9000",
            "payer_kind": "self_pay",
        },
    )
    db.session.refresh(entry)
    assert (entry.session_date, entry.sessions) == (date(2026, 3, 1), 60)


# ---------------------------------------------------------------------------
# No client identity, constant queries
# ---------------------------------------------------------------------------


def test_no_form_has_a_field_for_a_client(client, creator):
    entry = SessionIncomeFactory(creator=creator)
    for url in ("/studio/sessions", f"/studio/sessions/{entry.id}/edit", "/studio/sessions/import"):
        page = client.get(url).get_data(as_text=True).lower()
        for word in ('name="client', 'name="name', 'name="notes', 'name="diagnosis', "<textarea"):
            assert word not in page, (url, word)


def test_the_list_runs_the_same_queries_for_few_and_many_entries(web, client, count_queries):
    counts = []
    for size in (2, 60):
        profile = CreatorProfileFactory(user__email=f"creator{size}@example.org", user__time_zone=ZONE)
        for n in range(size):
            SessionIncomeFactory(creator=profile, session_date=date(2025, 1, 1) + timedelta(days=n))
        web.login(f"creator{size}@example.org", PASSWORD)
        for url in ("/studio/sessions", "/studio/sessions?month=2025-01"):
            with count_queries() as counter:
                assert client.get(url).status_code == 200
            counts.append(counter.count)
        web.logout()
    assert counts[:2] == counts[2:], counts
    assert max(counts) <= 4, counts
