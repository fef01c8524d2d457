"""Studio forms for an offering's learners: the search above the roster, giving access, a list upload, a refund."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, HiddenField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ...fields import MoneyField, QueryForm, valid_email
from ...models import EnrollmentStatus
from .services import MAX_IMPORT_ROWS, STATUS_LABELS

MAX_QUERY_LENGTH = 100


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class LearnerSearchForm(QueryForm):
    """The search box and status filter above the roster; read from the query string."""

    q = StringField("Search by name or e-mail", validators=[Optional(), Length(max=MAX_QUERY_LENGTH)])
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Everyone")] + [SelectChoice(s.value, STATUS_LABELS[s]) for s in EnrollmentStatus],
        validators=[Optional()],
    )

    def __init__(self, formdata) -> None:
        super().__init__(formdata)
        self.settle()

    @property
    def query(self) -> str:
        return " ".join((self.q.data or "").split())

    @property
    def status_filter(self) -> EnrollmentStatus | None:
        return EnrollmentStatus(self.status.data) if self.status.data else None

    def url_args(self, **changes) -> dict[str, str]:
        """The search as query-string arguments, leaving out what is empty (for filter and page links)."""
        args = {"q": self.query, "status": self.status.data or "", **changes}
        return {key: value for key, value in args.items() if value}


class GrantAccessForm(FlaskForm):
    """One person to give complimentary access to, by e-mail."""

    email = EmailField(
        "E-mail address",
        validators=[DataRequired(message="Enter the person's e-mail address."), Length(max=254), valid_email],
        filters=[_strip],
    )
    name = StringField(
        "Name (optional)",
        validators=[Optional(), Length(max=120)],
        filters=[_strip],
        description="Used if they don't have an account yet; we'll invite them to choose a password.",
    )


class ImportLearnersForm(FlaskForm):
    """A CSV of people to enrol at once."""

    file = FileField(
        "CSV file",
        validators=[FileRequired(message="Choose a CSV file to upload.")],
        render_kw={"accept": ".csv,text/csv,text/plain"},
        description=(
            f"One e-mail address per line, or columns named “email” and “name”. Up to {MAX_IMPORT_ROWS:,} people."
        ),
    )
    notify = BooleanField("E-mail each person to say they have access", default=True)


class RefundForm(FlaskForm):
    """How much of one order to give back, and why (kept with the order)."""

    amount = MoneyField("Amount to refund", render_kw={"inputmode": "decimal"})
    reason = StringField(
        "Reason (optional)",
        validators=[Optional(), Length(max=255)],
        filters=[_strip],
        description="Kept with the order for your records.",
    )
    # What had been refunded or was being refunded when the page was opened: a second press is refused.
    refunded_before = HiddenField()

    def validate_amount(self, field) -> None:
        if field.data is None and not field.errors:
            raise ValidationError("Enter the amount to refund.")
        if field.data == 0:
            raise ValidationError("Enter an amount above zero.")


class CertificateCorrectionForm(FlaskForm):
    """The learner's name or licence as the certificate should state it, and why it is corrected."""

    learner_name = StringField(
        "Name on the certificate", validators=[DataRequired(message="Enter the learner's name."), Length(max=120)]
    )
    learner_licence = StringField(
        "Licence on the certificate",
        validators=[Optional(), Length(max=200)],
        description="As it should read, e.g. LCSW 149.012345, Illinois. Leave empty for none.",
    )
    reason = StringField(
        "Why",
        validators=[DataRequired(message="Say why it is corrected: the audit trail keeps it."), Length(max=300)],
        description="e.g. The learner's legal name; a mistyped licence number.",
    )
