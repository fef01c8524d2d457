"""The buy box form the checkout will read: what a learner may pay for an offering."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from courseplatform.checkout.forms import CheckoutForm

from ..factories import OfferingFactory


def submitted(app, offering, **data) -> CheckoutForm:
    with app.test_request_context(method="POST", data=MultiDict(data)):
        form = CheckoutForm(offering, meta={"csrf": False})
        form.validate()
        return form


def test_fixed_price_has_no_amount_and_charges_the_price(app):
    offering = OfferingFactory(price_cents=12900)
    form = submitted(app, offering, amount="1")
    assert "amount" not in form
    assert form.errors == {}
    assert form.amount_cents == 12900


def test_sliding_scale_accepts_any_amount_from_the_minimum(app):
    offering = OfferingFactory(price_cents=7900, sliding_scale_min_cents=3900)
    assert submitted(app, offering, amount="39").amount_cents == 3900
    assert submitted(app, offering, amount="120.50").amount_cents == 12050


def test_sliding_scale_refuses_less_than_the_minimum_or_nothing(app):
    offering = OfferingFactory(price_cents=7900, sliding_scale_min_cents=3900)
    assert submitted(app, offering, amount="38.99").errors == {"amount": ["The lowest amount is $39."]}
    assert submitted(app, offering, amount="").errors == {"amount": ["Enter the amount you'd like to pay."]}
    assert submitted(app, offering, amount="lots").errors["amount"]
