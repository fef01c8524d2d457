"""The buy box's form, shown on the offering's page and checked when Buy is pressed."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import ValidationError

from ..fields import MoneyField
from ..formatting import format_money
from ..models import Offering


class CheckoutForm(FlaskForm):
    """The buy box; on a sliding scale the learner chooses what to pay, from the minimum up."""

    amount = MoneyField("Pay what you can", render_kw={"inputmode": "decimal"})
    # The coupon the page applied (from its link or the "Have a code?" box); checked again at Buy.
    coupon = HiddenField()
    # "1": the learner chose the payment plan (the offering's monthly instalments) over paying at once.
    plan = HiddenField()

    def __init__(self, offering: Offering, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.offering = offering
        if offering.sliding_scale_min_cents is None:
            del self.amount
            return
        if self.amount.data is None and not self.amount.raw_data:
            self.amount.data = offering.price_cents
        low = format_money(offering.sliding_scale_min_cents, offering.currency)
        suggested = format_money(offering.price_cents, offering.currency)
        self.amount.description = f"Any amount from {low}. Suggested {suggested}."

    def validate_amount(self, field) -> None:
        minimum = self.offering.sliding_scale_min_cents or 0
        if field.data is None:
            raise ValidationError("Enter the amount you'd like to pay.")
        if field.data < minimum:
            raise ValidationError(f"The lowest amount is {format_money(minimum, self.offering.currency)}.")

    @property
    def amount_cents(self) -> int:
        """What the learner will be charged."""
        if self.offering.sliding_scale_min_cents is None:
            return self.offering.price_cents
        return self.amount.data
