"""The revenue view under /studio/revenue: aqueduct income against bucket income, for a period the creator picks.

GET /studio/revenue        headline figures, monthly chart and table, the offerings 20 a page, best earners first
                           (?from=YYYY-MM&to=YYYY-MM&page=N)
GET /studio/revenue.csv    the monthly table as spreadsheet-safe CSV, for the same period

Only the creator's own numbers: neither route takes an id.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, make_response, render_template, request
from flask_login import current_user

from ..access import creator_required
from ..downloads import private_download
from ..fields import page_number
from ..formatting import zone_or_utc
from . import bp
from .figures import DEFAULT_MONTHS, MAX_MONTHS, revenue_csv, revenue_figures
from .forms import PeriodForm, period_shortcuts

PRIVATE = "private, no-store"  # the creator's income


def _period_form() -> tuple[PeriodForm, object, datetime]:
    zone = zone_or_utc(current_user.time_zone)
    now = datetime.now(UTC)
    return PeriodForm(request.args, now.astimezone(zone).date()), zone, now


@bp.get("/revenue")
@creator_required
def revenue():
    """How much of my income no longer needs an hour in the chair: month by month, and per offering."""
    form, zone, now = _period_form()
    figures = revenue_figures(current_user.creator_profile, form.period, zone, now, page_number(request.args))
    response = make_response(
        render_template(
            "revenue/revenue.html",
            form=form,
            figures=figures,
            # The offerings' pager keeps the period, and nothing else the address holds.
            period_args={key: value for key, value in request.args.items() if key in ("from", "to")},
            shortcuts=period_shortcuts(form.this_month),
            zone_name=zone.key,
            default_months=DEFAULT_MONTHS,
            max_months=MAX_MONTHS,
        )
    )
    response.headers["Cache-Control"] = PRIVATE
    return response


@bp.get("/revenue.csv", endpoint="revenue_csv")
@creator_required
def revenue_csv_download():
    """The monthly table as CSV, for the creator's spreadsheet or accountant."""
    form, zone, now = _period_form()
    if form.problem:
        message = " ".join(form.start.errors + form.end.errors)
        return Response(f"That period can't be exported: {message}\n", 400, mimetype="text/plain")
    figures = revenue_figures(current_user.creator_profile, form.period, zone, now)
    args = form.period.args()
    return private_download(revenue_csv(figures), f"revenue-{args['from']}-to-{args['to']}.csv")
