"""Forms for logging 1:1 session income: one entry, a month's total, a CSV import and its column mapping.

None of them has a field for a client's name, notes or anything else that identifies a client.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    Form,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from ..fields import EARLIEST_DATE, CalendarDateField, MoneyField, WholeNumberField, parse_month
from ..formatting import zone_or_utc
from ..models import PayerKind
from .session_import import MAX_IMPORT_BYTES, MINUTES_RANGE, SESSIONS_RANGE, TARGET_LABELS, KeptFile

PAYER_CHOICES = [SelectChoice(kind.value, kind.label) for kind in PayerKind]
# An import keeps monthly totals only (no day of a session is stored) unless the creator asks for days.
KEEP_MONTHS, KEEP_DAYS = "months", "days"
# Monthly totals replace what their months hold, unless the creator says the file continues an earlier one.
REPLACE, ADD = "replace", "add"
FUTURE_SESSIONS = "That date is in the future. Log sessions once they have happened."


def _sessions_field(label: str = "Number of sessions") -> WholeNumberField:
    low, high = SESSIONS_RANGE
    return WholeNumberField(
        label,
        validators=[
            InputRequired(message="Enter how many sessions."),
            NumberRange(low, high, message=f"Enter between {low} and {high:,} sessions."),
        ],
        render_kw={"inputmode": "numeric", "min": low, "max": high},
    )


def _minutes_validators(required: bool) -> list:
    low, high = MINUTES_RANGE
    first = InputRequired(message="Enter how long each session was, in minutes.") if required else Optional()
    return [first, NumberRange(low, high, message=f"Enter between {low} and {high} minutes.")]


def _amount_field(label: str, description: str) -> MoneyField:
    return MoneyField(label, render_kw={"inputmode": "decimal", "autocomplete": "off"}, description=description)


def _require_amount(field) -> None:
    if field.data is None and not field.errors:
        raise ValidationError("Enter the amount you were paid (0 for sessions you gave for free).")


class SessionEntryForm(FlaskForm):
    """One day's sessions: when, how many, how long, what they brought in, who paid."""

    session_date = CalendarDateField(
        "Date",
        validators=[InputRequired(message="Enter the date of the sessions.")],
        early_message=f"Enter a date from {EARLIEST_DATE.year} onwards.",
        late_message=FUTURE_SESSIONS,
    )
    sessions = _sessions_field()
    minutes_each = WholeNumberField(
        "Minutes each", validators=_minutes_validators(True), render_kw={"inputmode": "numeric"}
    )
    amount = _amount_field("Amount", "The total for these sessions, e.g. 150 or 1,250.00.")
    payer_kind = SelectField("Paid by", choices=PAYER_CHOICES, default=PayerKind.SELF_PAY.value)

    def __init__(self, *args, today: date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def validate_session_date(self, field) -> None:
        if field.data is None:
            return
        if field.data > self.today + timedelta(days=1):
            raise ValidationError(FUTURE_SESSIONS)

    def validate_amount(self, field) -> None:
        _require_amount(field)

    @property
    def values(self) -> dict:
        return {
            "session_date": self.session_date.data,
            "sessions": self.sessions.data,
            "minutes_each": self.minutes_each.data,
            "amount_cents": self.amount.data,
            "payer_kind": PayerKind(self.payer_kind.data),
        }


class MonthlyEntryForm(FlaskForm):
    """A whole month in one line: “in March: 62 sessions, $9,300”."""

    month = StringField(
        "Month",
        validators=[InputRequired(message="Choose the month.")],
        render_kw={"type": "month", "placeholder": "2026-03", "pattern": r"\d{4}-\d{2}"},
    )
    sessions = _sessions_field("Sessions that month")
    amount = _amount_field("Total paid", "Everything those sessions brought in, e.g. 9300.")
    minutes_each = WholeNumberField(
        "Minutes each (optional)",
        validators=_minutes_validators(False),
        render_kw={"inputmode": "numeric"},
    )
    payer_kind = SelectField("Paid by", choices=PAYER_CHOICES, default=PayerKind.SELF_PAY.value)
    confirm = BooleanField("Yes, save it")

    def __init__(self, *args, today: date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def validate_month(self, field) -> None:
        first = parse_month(field.data)
        if first is None:
            raise ValidationError("Enter a month such as 2026-03.")
        if first > self.today.replace(day=1):
            raise ValidationError("That month hasn't started yet.")

    def validate_amount(self, field) -> None:
        _require_amount(field)

    @property
    def first_day(self) -> date:
        return parse_month(self.month.data)


class SessionFilterForm(Form):
    """Which month of entries to list, read from the query string; anything odd lists them all."""

    class Meta:
        csrf = False

    month = StringField("Month", render_kw={"type": "month"})

    @property
    def first_day(self) -> date | None:
        return parse_month(self.month.data)


class SessionImportForm(FlaskForm):
    """A CSV exported from a practice-management system."""

    file = FileField(
        "CSV file",
        validators=[FileRequired(message="Choose a CSV file to upload.")],
        render_kw={"accept": ".csv,text/csv,text/plain"},
        description=f"Up to {MAX_IMPORT_BYTES // 2**20} MB. Nothing is saved until you confirm on the next page.",
    )


class ColumnMappingForm(FlaskForm):
    """Which column holds the date, fee, duration, count and payer, and what to do with rows that have problems."""

    kept = HiddenField()
    date = SelectField(TARGET_LABELS["date"], validate_choice=False)
    fee = SelectField(TARGET_LABELS["fee"], validate_choice=False)
    duration = SelectField(TARGET_LABELS["duration"], validate_choice=False)
    count = SelectField(TARGET_LABELS["count"], validate_choice=False)
    payer = SelectField(TARGET_LABELS["payer"], validate_choice=False)
    status = SelectField(TARGET_LABELS["status"], validate_choice=False)
    service = SelectField(TARGET_LABELS["service"], validate_choice=False)
    insurance = SelectField(
        TARGET_LABELS["insurance"],
        validate_choice=False,
        description="Only when an insurer's payments have a column of their own: each line is then split by payer.",
    )
    unknown_payer = SelectField(
        "Other payers count as",
        choices=[SelectChoice(kind.value, kind.label) for kind in PayerKind],
        default=PayerKind.SELF_PAY.value,
        description="A payer that names no kind of payment, such as a client's own name: never kept.",
    )
    keep = RadioField(
        "What to keep",
        choices=[
            SelectChoice(KEEP_MONTHS, "Monthly totals only (recommended)"),
            SelectChoice(KEEP_DAYS, "A line for each session, with its date"),
        ],
        default=KEEP_MONTHS,
        validate_choice=False,
    )
    overlap = RadioField(
        "Months that already hold imported sessions",
        choices=[
            SelectChoice(REPLACE, "Replace what they hold: this file has the whole of those months"),
            SelectChoice(ADD, "Add this file's sessions to them: it continues an earlier export"),
        ],
        default=REPLACE,
        validate_choice=False,
    )
    skip_bad = BooleanField("Skip the rows with problems and import the rest")
    preview = SubmitField("Update the preview")
    confirm = SubmitField("Import")

    def offer(self, kept: KeptFile, default_minutes: int) -> None:
        """Offer the kept columns in each list, with the suggested column chosen unless one was picked."""
        suggested = kept.suggestions()
        optional = {
            "duration": f"None: use my usual {default_minutes} minutes",
            "count": "None: one session a line",
            "payer": "None: all self-pay",
            "status": "None: every line is a session held",
            "service": "None: every line is a session",
            "insurance": "None: the fee is the whole amount",
        }
        for target in ("date", "fee", "insurance", "duration", "count", "service", "status", "payer"):
            select = self[target]
            choices = [SelectChoice(str(i), name) for i, name in kept.choices(target)]
            if target in optional:
                choices.insert(0, SelectChoice("", optional[target]))
            select.choices = choices
            if not select.raw_data or select.data not in {choice.value for choice in choices}:
                select.data = str(suggested[target]) if suggested[target] is not None else ""

    @property
    def by_month(self) -> bool:
        """Whether to keep monthly totals only: the default, and anything but a clear choice of days."""
        return self.keep.data != KEEP_DAYS

    @property
    def adds_to_months(self) -> bool:
        """Whether monthly totals are added to what their months hold (a clear choice), not replacing it."""
        return self.by_month and self.overlap.data == ADD

    def unknown_payer_kind(self) -> PayerKind:
        """The choice for payers that name no kind, self-pay until a valid one is made."""
        known = {kind.value: kind for kind in PayerKind}
        return known.get(self.unknown_payer.data or "", PayerKind.SELF_PAY)

    def validate_date(self, field) -> None:
        if not field.data:
            raise ValidationError("Choose the column with the date of each session.")

    def validate_fee(self, field) -> None:
        if not field.data:
            raise ValidationError("Choose the column with the fee.")
        self._once(field, [self.date])

    def validate_duration(self, field) -> None:
        self._once(field, [self.date, self.fee])

    def validate_count(self, field) -> None:
        self._once(field, [self.date, self.fee, self.duration])

    def validate_status(self, field) -> None:
        self._once(field, [self.date, self.fee, self.duration, self.count])

    def validate_service(self, field) -> None:
        self._once(field, [self.date, self.fee, self.duration, self.count, self.status])

    def validate_insurance(self, field) -> None:
        self._once(field, [self.date, self.fee, self.duration, self.count, self.status, self.service])

    def _once(self, field, others) -> None:
        for other in others:
            if field.data and field.data == other.data:
                raise ValidationError(f"That column is already used for “{other.label.text}”: choose another.")

    def column(self, target: str) -> int | None:
        value = self[target].data
        return int(value) if value not in (None, "") else None


def today_in(zone: str) -> date:
    """Today's date where the creator lives."""
    return datetime.now(zone_or_utc(zone)).date()
