"""Session income routes: the creator's log of 1:1 work, next to which the revenue view sets their courses.

GET  /studio/sessions                   entries, newest first (optionally one month), with totals and the add forms
POST /studio/sessions                   log one day's sessions
POST /studio/sessions/monthly           log a whole month in one line (replacing that month's earlier total)
GET, POST /studio/sessions/<id>/edit    correct an entry
POST /studio/sessions/<id>/delete       remove an entry
GET  /studio/sessions/import            upload a practice-management export
POST /studio/sessions/import            read it, keep only mappable columns, show the column mapping and a preview
POST /studio/sessions/import/confirm    refresh the preview, or start the import in the background
GET  /studio/sessions/imports/<job>     that import's progress, then its report

Only the creator's own entries: an id that isn't theirs is a 404.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..access import creator_required
from ..extensions import db
from ..fields import page_number
from ..formatting import format_money
from ..models import CreatorProfile, PayerKind, SessionIncome, SessionIncomeKind
from ..studio.offerings.forms import ConfirmForm
from . import bp
from .session_forms import (
    ColumnMappingForm,
    MonthlyEntryForm,
    SessionEntryForm,
    SessionFilterForm,
    SessionImportForm,
    today_in,
)
from .session_import import (
    DAY_FIRST_CURRENCIES,
    MAX_IMPORT_BYTES,
    PREVIEW_ROWS,
    TARGET_LABELS,
    KeptFile,
    Mapping,
    SessionImportError,
    monthly_totals,
    parse_rows,
    read_export,
)
from .session_jobs import session_import_job, start_session_import
from .session_services import (
    SOURCE_LABELS,
    MonthSituation,
    SessionIncomeError,
    add_entry,
    delete_entry,
    look_alike_rows,
    month_situation,
    overlapping_months,
    owned_entry,
    record_month,
    session_ledger,
    update_entry,
)

MONTHS_SHOWN = 60  # monthly totals listed in the preview (five years of one payer)
MONTHLY_PREFIX = "monthly"  # the two add forms share a page: their fields need distinct names and ids


def _profile() -> CreatorProfile:
    return current_user.creator_profile


def _today():
    return today_in(current_user.time_zone)


def _entry_form(*, posted: bool = False) -> SessionEntryForm:
    """The one-day form, posted or prefilled with today, one session and the creator's usual length."""
    if posted:
        return SessionEntryForm(today=_today())
    form = SessionEntryForm(formdata=None, today=_today())
    form.session_date.data = _today()
    form.sessions.data = 1
    form.minutes_each.data = _profile().default_session_minutes
    return form


def _monthly_form(*, posted: bool = False) -> MonthlyEntryForm:
    """The month-total form, posted or prefilled with the current month."""
    if posted:
        return MonthlyEntryForm(prefix=MONTHLY_PREFIX, today=_today())
    form = MonthlyEntryForm(formdata=None, prefix=MONTHLY_PREFIX, today=_today())
    form.month.data = f"{_today():%Y-%m}"
    return form


def _list_page(
    entry: SessionEntryForm | None = None,
    monthly: MonthlyEntryForm | None = None,
    situation: MonthSituation | None = None,
):
    profile = _profile()
    search = SessionFilterForm(request.args)
    month = search.first_day
    ledger = session_ledger(profile, month, page_number(request.args))
    entry = entry or _entry_form()
    monthly = monthly or _monthly_form()
    if profile.default_session_fee_cents:
        usual = format_money(profile.default_session_fee_cents, profile.currency)
        entry.amount.description = f"The total for these sessions (your usual fee is {usual} a session)."
    return render_template(
        "revenue/sessions.html",
        profile=profile,
        ledger=ledger,
        search=search,
        entry=entry,
        monthly=monthly,
        situation=situation,
        confirm=ConfirmForm(),
        source_labels=SOURCE_LABELS,
        open_monthly=monthly.errors or situation is not None,
        month_links=_month_links(month),
    )


def _month_links(month):
    if month is None:
        return None
    before = f"{month.year - (month.month == 1)}-{(month.month - 2) % 12 + 1:02d}"
    after = f"{month.year + (month.month == 12)}-{month.month % 12 + 1:02d}"
    return {
        "previous": url_for("revenue.sessions", month=before),
        "next": url_for("revenue.sessions", month=after) if month < _today().replace(day=1) else None,
    }


@bp.get("/sessions")
@creator_required
def sessions():
    """My 1:1 sessions, newest first, with the totals of the month shown, and the forms to log more."""
    return _list_page()


@bp.post("/sessions")
@creator_required
def add_session():
    """Log one day's sessions; the month they belong to is shown next."""
    form = _entry_form(posted=True)
    if not form.validate_on_submit():
        return _list_page(entry=form)
    entry = add_entry(_profile(), form.values)
    flash(f"Logged {_describe(entry)}.", "success")
    return redirect(url_for("revenue.sessions", month=f"{entry.session_date:%Y-%m}"))


@bp.post("/sessions/monthly")
@creator_required
def add_month():
    """Log a month's sessions in one line, asking first if the month already has entries."""
    profile = _profile()
    form = _monthly_form(posted=True)
    if not form.validate_on_submit():
        return _list_page(monthly=form)
    first, payer = form.first_day, PayerKind(form.payer_kind.data)
    situation = month_situation(profile, first, payer)
    if situation.needs_confirmation and not form.confirm.data:
        return _list_page(monthly=form, situation=situation)
    minutes = form.minutes_each.data or profile.default_session_minutes
    try:
        entry, replaced = record_month(profile, first, form.sessions.data, form.amount.data, minutes, payer)
    except SessionIncomeError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("revenue.sessions", month=f"{first:%Y-%m}"))
    done = "Replaced the total for" if replaced else "Logged"
    flash(
        f"{done} {first:%B %Y}: {entry.sessions} {payer.label.lower()} session{'s' if entry.sessions != 1 else ''}, "
        f"{format_money(entry.amount_cents, entry.currency)}.",
        "success",
    )
    return redirect(url_for("revenue.sessions", month=f"{first:%Y-%m}"))


def _owned_or_404(entry_id: int) -> SessionIncome:
    entry = owned_entry(_profile(), entry_id)
    if entry is None:
        abort(404)
    return entry


@bp.route("/sessions/<int:entry_id>/edit", methods=["GET", "POST"])
@creator_required
def edit_session(entry_id: int):
    """Correct an entry: its date, count, minutes, amount or payer."""
    entry = _owned_or_404(entry_id)
    if entry.kind is not SessionIncomeKind.SESSION:
        # A fee or a refund has no sessions to correct; it came from an import, which can bring it again.
        flash(f"{_describe(entry)} came from an import: delete it and import the corrected file.", "info")
        return redirect(url_for("revenue.sessions", month=f"{entry.session_date:%Y-%m}"))
    form = SessionEntryForm(obj=entry, today=_today()) if request.method == "GET" else SessionEntryForm(today=_today())
    if request.method == "GET":
        form.amount.data = entry.amount_cents
        form.payer_kind.data = entry.payer_kind.value
    elif form.validate_on_submit():
        try:
            update_entry(_profile(), entry, form.values)
        except SessionIncomeError as error:
            db.session.rollback()
            form.session_date.errors.append(str(error))
        else:
            flash(f"Saved: {_describe(entry)}.", "success")
            return redirect(url_for("revenue.sessions", month=f"{entry.session_date:%Y-%m}"))
    return render_template(
        "revenue/sessions_edit.html", entry=entry, form=form, source_labels=SOURCE_LABELS, profile=_profile()
    )


@bp.post("/sessions/<int:entry_id>/delete")
@creator_required
def delete_session(entry_id: int):
    """Remove an entry, after the creator confirmed it."""
    entry = _owned_or_404(entry_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    described, month = _describe(entry), f"{entry.session_date:%Y-%m}"
    delete_entry(entry)
    flash(f"Deleted {described}.", "success")
    back = request.args.get("month") or month
    page = page_number(request.args) if request.args.get("page") else None
    return redirect(url_for("revenue.sessions", month=back, page=page))


def _describe(entry: SessionIncome) -> str:
    if entry.kind is not SessionIncomeKind.SESSION:
        amount = format_money(entry.amount_cents, entry.currency)
        return f"The {entry.kind.label.lower()} of {entry.session_date:%b %-d, %Y} ({amount})"
    count = f"{entry.sessions} session{'s' if entry.sessions != 1 else ''}"
    return f"{count} on {entry.session_date:%b %-d, %Y} ({format_money(entry.amount_cents, entry.currency)})"


# ---------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------


@bp.get("/sessions/import")
@creator_required
def import_sessions_start():
    """Upload an export from a practice-management system; how its client columns are dropped is explained."""
    return render_template("revenue/sessions_import.html", form=SessionImportForm(formdata=None))


@bp.post("/sessions/import")
@creator_required
def import_sessions_upload():
    """Read the upload, keep only the columns that can be mapped, and show the mapping with a preview."""
    form = SessionImportForm()
    if not form.validate_on_submit():
        return render_template("revenue/sessions_import.html", form=form)
    try:
        data = form.file.data.read(MAX_IMPORT_BYTES + 1)
    finally:
        form.file.data.close()
    try:
        kept = read_export(data)
    except SessionImportError as error:
        form.file.errors.append(str(error))
        return render_template("revenue/sessions_import.html", form=form)
    mapping = ColumnMappingForm(formdata=None)
    mapping.kept.data = kept.dumps()
    return _preview(kept, mapping)


@bp.post("/sessions/import/confirm")
@creator_required
def import_sessions_confirm():
    """Preview again with another mapping, or start the import: none when a row has a problem, unless skipped."""
    profile = _profile()
    form = ColumnMappingForm()
    try:
        kept = KeptFile.loads(form.kept.data)
    except SessionImportError as error:
        flash(str(error), "error")
        return redirect(url_for("revenue.import_sessions_start"))
    form.offer(kept, profile.default_session_minutes)
    if not form.validate_on_submit():
        return _preview(kept, form)
    if not form.confirm.data:
        return _preview(kept, form)
    mapping, parsed = _parse(kept, form)
    if parsed.bad and not form.skip_bad.data:
        return _preview(kept, form, refused=True)
    if not parsed.rows:
        return _preview(kept, form, refused=True)
    job = start_session_import(
        current_user,
        monthly_totals(parsed.rows) if form.by_month else parsed.rows,
        parsed.bad,
        dropped=_dropped(kept, mapping),
        mapped=_mapped(kept, mapping),
        by_month=form.by_month,
        replace=not form.adds_to_months,
    )
    return redirect(url_for("revenue.session_import", job_id=job.id))


@bp.get("/sessions/imports/<int:job_id>")
@creator_required
def session_import(job_id: int):
    """How a confirmed import is going: progress while its job runs, then what was imported and skipped."""
    job = session_import_job(current_user, job_id)
    if job is None:
        abort(404)
    return render_template("revenue/sessions_import_report.html", job=job, payload=job.payload, result=job.result)


def _parse(kept: KeptFile, form: ColumnMappingForm):
    mapping = Mapping(
        date=form.column("date"),
        fee=form.column("fee"),
        duration=form.column("duration"),
        count=form.column("count"),
        payer=form.column("payer"),
        status=form.column("status"),
        service=form.column("service"),
        insurance=form.column("insurance"),
        unknown_payer=form.unknown_payer_kind(),
    )
    profile = _profile()
    return mapping, parse_rows(
        kept,
        mapping,
        default_minutes=profile.default_session_minutes,
        today=_today(),
        currency=profile.currency,
        day_first_likely=profile.currency in DAY_FIRST_CURRENCIES,
        usual_fee_cents=profile.default_session_fee_cents,
    )


def _preview(kept: KeptFile, form: ColumnMappingForm, *, refused: bool = False):
    """The mapping form, what the first rows will become, and every row with a problem."""
    profile = _profile()
    if form.kept.data is None:
        form.kept.data = kept.dumps()
    form.offer(kept, profile.default_session_minutes)
    parsed = mapping = None
    if not form.date.errors and not form.fee.errors and form.date.data and form.fee.data:
        mapping, parsed = _parse(kept, form)
    # What is stored: the rows themselves, or (the default) their monthly totals.
    stored = (monthly_totals(parsed.rows) if form.by_month else parsed.rows) if parsed else []
    return render_template(
        "revenue/sessions_import_preview.html",
        form=form,
        kept=kept,
        parsed=parsed,
        preview=stored[: MONTHS_SHOWN if form.by_month else PREVIEW_ROWS],
        dropped=_dropped(kept, mapping) if mapping else kept.dropped_on_reading,
        dropped_on_reading=kept.dropped_on_reading,
        mapped=_mapped(kept, mapping) if mapping else {},
        refused=refused,
        profile=profile,
        kinds=SessionIncomeKind,
        look_alike=look_alike_rows(profile, parsed.rows) if parsed else 0,
        overlaps=overlapping_months(profile, stored),
        spans=_spans(parsed.rows) if parsed else {},
        stored=stored,
        columns=_columns(kept, mapping),
        rows_total=len(kept.lines),
    )


def _spans(rows) -> dict:
    """Month → (first, last) day the file has in it, to show which part of an overlapping month it covers."""
    spans: dict = {}
    for row in rows:
        if not row.whole_month:
            first, last = spans.get(row.session_date.replace(day=1), (row.session_date, row.session_date))
            spans[row.session_date.replace(day=1)] = (min(first, row.session_date), max(last, row.session_date))
    return spans


def _columns(kept: KeptFile, mapping: Mapping | None) -> list[tuple[str, str, str]]:
    """(column, what it is taken as, why) for every column of the file, for the preview's explanation."""
    target_of = {index: target for target, index in _targets(mapping)} if mapping else {}
    explained = []
    for i, (name, suggested, why) in enumerate(kept.reasons()):
        if i in target_of:
            taken = TARGET_LABELS[target_of[i]]
            why = why if suggested else "you chose it"
        elif suggested:
            taken, why = "Not used", f"{why}, but another column is used for that"
        else:
            taken = "Dropped"
        explained.append((name, taken, why))
    return explained


def _targets(mapping: Mapping) -> list[tuple[str, int]]:
    """(target, column) for every target the mapping takes from a column."""
    return [
        (target, index)
        for target in ("date", "fee", "insurance", "duration", "count", "service", "status", "payer")
        if (index := getattr(mapping, target)) is not None
    ]


def _dropped(kept: KeptFile, mapping: Mapping) -> list[str]:
    used = set(mapping.columns())
    return [name or f"Column {i + 1}" for i, name in enumerate(kept.headers) if i not in used]


def _mapped(kept: KeptFile, mapping: Mapping) -> dict[str, str]:
    """Target label → the column it comes from."""
    return {TARGET_LABELS[target]: kept.headers[index] for target, index in _targets(mapping)}
