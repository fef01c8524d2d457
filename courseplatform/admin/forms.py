"""Operator forms: the searches above the lists, a refund with its confirmation, a suspension with its reason."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..fields import MoneyField, QueryForm
from ..models import OrderStatus
from .services import CREATOR_FILTERS

MAX_QUERY_LENGTH = 100


def _strip(value):
    return " ".join(value.split()) if isinstance(value, str) else value


class _Search(QueryForm):
    def __init__(self, formdata) -> None:
        super().__init__(formdata)
        self.settle()

    @property
    def query(self) -> str:
        return " ".join((self.q.data or "").split())

    def url_args(self, **changes) -> dict[str, str]:
        """The search as query-string arguments, leaving out what is empty (for page links)."""
        args = {name: (f.data or "") for name, f in self._fields.items()}
        args.update(q=self.query, **changes)
        return {key: str(value) for key, value in args.items() if value}


class CreatorSearchForm(_Search):
    """The box above the creators: a name, e-mail or slug, and whether suspended."""

    q = StringField("Name, e-mail or address", validators=[Optional(), Length(max=MAX_QUERY_LENGTH)])
    status = SelectField(
        "Show", choices=[SelectChoice(v, label) for v, label in CREATOR_FILTERS.items()], validators=[Optional()]
    )


class OrderSearchForm(_Search):
    """The box above the orders: a buyer's e-mail, an order number or a Stripe id, and a status."""

    q = StringField("E-mail, order number or Stripe id", validators=[Optional(), Length(max=MAX_QUERY_LENGTH)])
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")] + [SelectChoice(s.value, s.label) for s in OrderStatus],
        validators=[Optional()],
    )
    creator = HiddenField()

    @property
    def status_filter(self) -> OrderStatus | None:
        return OrderStatus(self.status.data) if self.status.data else None


REASON_HELP = "Kept in the audit log with your name."


class OperatorRefundForm(FlaskForm):
    """How much of an order the operator gives back, and why; sent twice: to review, then to confirm."""

    amount = MoneyField("Amount to refund", render_kw={"inputmode": "decimal"})
    reason = StringField(
        "Reason",
        validators=[DataRequired(message="Say why you are refunding."), Length(max=255)],
        filters=[_strip],
        description="Kept with the order and in the audit log.",
    )
    # What had been refunded (or was being refunded) when the page was opened: a second press is refused.
    refunded_before = HiddenField()
    # Set by the confirmation page; without it the form only shows what would happen.
    confirmed = HiddenField()

    def validate_amount(self, field) -> None:
        if field.data is None and not field.errors:
            raise ValidationError("Enter the amount to refund.")
        if field.data == 0:
            raise ValidationError("Enter an amount above zero.")


class ReasonForm(FlaskForm):
    """Suspend or unsuspend: the operator says why."""

    reason = StringField(
        "Reason",
        validators=[DataRequired(message="Give a reason: it is shown to other operators."), Length(max=500)],
        filters=[_strip],
        description=REASON_HELP,
    )
