"""The demo therapist reads a year of aqueduct against bucket income, narrows it to six months, downloads the CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from courseplatform.demo.seed import DEMO_PASSWORD, THERAPIST_EMAIL, ZONE, seed_demo
from courseplatform.extensions import db
from courseplatform.revenue.figures import Period

CHART_MONTHS = "() => Chart.getChart(document.getElementById('revenue-chart')).data.labels.length"


def test_the_demo_therapist_reads_the_revenue_view_and_downloads_the_csv(page: Page, live_url: str):
    seed_demo()
    db.session.commit()
    this_month = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date().replace(day=1)
    six_months = Period.ending(this_month, 6)

    page.goto("/login")
    page.get_by_label("E-mail").fill(THERAPIST_EMAIL)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".flashes")).to_contain_text("You're logged in.")

    # From the studio to the revenue view: a year of months, drawn and tabled.
    page.goto("/studio")
    page.get_by_role("link", name="Revenue", exact=True).click()
    expect(page.get_by_role("heading", name="Revenue", level=1)).to_be_visible()
    chart = page.locator("#revenue-chart")
    expect(chart).to_be_visible()
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('revenue-chart'))")
    assert page.evaluate(CHART_MONTHS) == 12
    months_table = page.get_by_role("region", name=re.compile("Income per month"))
    expect(months_table.locator("tbody tr")).to_have_count(12)
    expect(months_table.locator("tbody tr").last.locator("th")).to_have_text(this_month.strftime("%B %Y"))
    expect(page.locator('[data-figure="passive"]')).not_to_have_text("$0")
    expect(page.locator('[data-figure="session"]')).not_to_have_text("$0")
    expect(page.get_by_role("heading", name="By offering")).to_be_visible()

    # Six months, chosen in the form: six bars and six rows.
    page.get_by_label("From").fill(six_months.first.strftime("%Y-%m"))
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"from=" + six_months.first.strftime("%Y-%m")))
    expect(months_table.locator("tbody tr")).to_have_count(6)
    page.wait_for_function(CHART_MONTHS.replace("=>", "=> window.Chart && ") + " === 6")
    expect(page.get_by_role("link", name="Last 6 months")).to_have_attribute("aria-current", "true")

    # Back to the year, and its CSV: a header and twelve months.
    page.get_by_role("link", name="Last 12 months").click()
    expect(months_table.locator("tbody tr")).to_have_count(12)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert re.fullmatch(r"revenue-\d{4}-\d{2}-to-\d{4}-\d{2}\.csv", download.suggested_filename)
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows[0][:4] == ["month", "currency", "session_income", "passive_income"]
    assert len(rows) == 13
    assert rows[-1][0] == this_month.strftime("%Y-%m")
    assert sum(float(row[3]) for row in rows[1:]) > 0
