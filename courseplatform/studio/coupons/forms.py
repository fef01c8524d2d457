"""The studio's coupon form: a code, what it takes off, where it applies, and its limits."""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ...checkout.coupons import CODE_RULE, CouponError, normalise_code
from ...fields import CalendarDateField, MoneyField, WholeNumberField

KIND_CHOICES = [SelectChoice("percent", "A percentage off"), SelectChoice("amount", "An amount off")]
SCOPE_CHOICES = [
    SelectChoice("all", "All my paid offerings, now and later"),
    SelectChoice("selected", "Only the offerings I tick"),
]
MAX_REDEMPTIONS = 1_000_000


class CheckboxListField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CouponForm(FlaskForm):
    code = StringField("Code", description=f"What learners type, or what your link carries: {CODE_RULE}.")
    kind = RadioField("Discount", choices=KIND_CHOICES, default="percent")
    percent_off = WholeNumberField(
        "Percent off",
        validators=[Optional(), NumberRange(min=1, max=100, message="Enter a percentage from 1 to 100.")],
        description="100 % lets learners enrol without paying.",
    )
    amount_off_cents = MoneyField("Amount off", description="Taken off each offering's price, down to free.")
    scope = RadioField("Applies to", choices=SCOPE_CHOICES, default="all")
    offering_ids = CheckboxListField("Offerings", coerce=int, choices=[])
    last_day = CalendarDateField(
        "Last day it works",
        validators=[Optional()],
        description="Leave empty for no end. It stops at midnight at the end of that day, your time.",
    )
    max_redemptions = WholeNumberField(
        "Uses in total",
        validators=[
            Optional(),
            NumberRange(min=1, max=MAX_REDEMPTIONS, message=f"Enter a number from 1 to {MAX_REDEMPTIONS:,}."),
        ],
        description="How many purchases it can make in all. Leave empty for no limit.",
    )
    max_per_learner = WholeNumberField(
        "Uses per learner",
        default=1,
        validators=[Optional(), NumberRange(min=1, max=1000, message="Enter a number from 1 to 1,000.")],
        description="On how many offerings one learner may use it. Leave empty for no limit.",
    )

    def __init__(self, offerings, today: date, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.offering_ids.choices = [SelectChoice(o.id, o.title) for o in offerings]
        self.today = today  # on the creator's calendar
        self.normalised_code: str | None = None

    def validate_last_day(self, field) -> None:
        if field.data is not None and field.data < self.today:
            raise ValidationError("Choose today or a later day: a code that has already ended can't be used.")

    def validate_code(self, field) -> None:
        try:
            self.normalised_code = normalise_code(field.data)
        except CouponError:
            raise ValidationError(f"Use {CODE_RULE}.") from None
        if self.normalised_code is None:
            raise ValidationError("Enter a code.")

    def validate_percent_off(self, field) -> None:
        if self.kind.data == "percent" and field.data is None:
            raise ValidationError("Enter a percentage from 1 to 100.")

    def validate_amount_off_cents(self, field) -> None:
        if self.kind.data == "amount" and not field.data:
            raise ValidationError("Enter the amount to take off, above zero.")

    def validate_offering_ids(self, field) -> None:
        if self.scope.data == "selected" and not field.data:
            raise ValidationError("Tick at least one offering, or choose all of them.")
