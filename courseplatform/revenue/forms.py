"""The revenue view's period: a first and a last month, read from the query string."""

from __future__ import annotations

from datetime import date

from wtforms import Form, StringField
from wtforms.validators import Optional, ValidationError

from ..fields import parse_month
from .figures import DEFAULT_MONTHS, MAX_MONTHS, Period

MONTH_HINT = "a month like 2025-03"


def valid_month(form, field) -> None:
    if parse_month(field.data) is None:
        raise ValidationError(f"Enter {MONTH_HINT}.")


class PeriodForm(Form):
    """From month, to month (both included); either may be left out. GET, so no CSRF token."""

    class Meta:
        csrf = False

    start = StringField("From", name="from", validators=[Optional(), valid_month])
    end = StringField("To", name="to", validators=[Optional(), valid_month])

    problem = False  # the input was refused and the default period is shown

    def __init__(self, formdata, this_month: date) -> None:
        super().__init__(formdata)
        self.this_month = this_month.replace(day=1)
        self.period = Period.ending(self.this_month, DEFAULT_MONTHS)
        if self.validate():
            self.period = self._chosen()
        else:
            # What the creator typed stays in the boxes, next to the message, above the default period.
            self.problem = True

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        chosen = self._chosen()
        if chosen.last > self.this_month:
            latest = self.this_month.strftime("%B %Y")
            self.end.errors.append(f"Choose {latest} or earlier: months to come have no income yet.")
            return False
        if chosen.first > chosen.last:
            self.start.errors.append("The first month must come before the last.")
            return False
        if chosen.length > MAX_MONTHS:
            self.start.errors.append(f"Choose at most {MAX_MONTHS} months ({MAX_MONTHS // 12} years).")
            return False
        return True

    def _chosen(self) -> Period:
        """The months asked for: a missing end is this month, a missing start is 12 months before the end."""
        last = parse_month(self.end.data) or self.this_month
        first = parse_month(self.start.data) or Period.ending(last, DEFAULT_MONTHS).first
        return Period(first, last)


def period_shortcuts(this_month: date) -> list[tuple[str, Period]]:
    """The periods a creator most often wants, one click away."""
    this_month = this_month.replace(day=1)
    this_year = date(this_month.year, 1, 1)
    return [
        ("Last 3 months", Period.ending(this_month, 3)),
        ("Last 6 months", Period.ending(this_month, 6)),
        ("Last 12 months", Period.ending(this_month, 12)),
        ("This year", Period(this_year, this_month)),
        ("Last year", Period(date(this_month.year - 1, 1, 1), date(this_month.year - 1, 12, 1))),
    ]
