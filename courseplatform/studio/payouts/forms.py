"""The studio's tax forms: the creator's head office and pricing, and where they are registered to collect tax."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from .tax import COUNTRIES, US_STATES, registration_kinds

COUNTRY_CHOICES = [
    SelectChoice("", "Choose a country"),
    *(SelectChoice(code, name) for code, name in sorted(COUNTRIES.items(), key=lambda item: item[1])),
]
STATE_CHOICES = [
    SelectChoice("", "Not in the United States"),
    *(SelectChoice(code, name) for code, name in sorted(US_STATES.items(), key=lambda item: item[1])),
]
PRICING_CHOICES = [
    SelectChoice("exclusive", "Tax is added at checkout, on top of my prices (usual for US sales tax)"),
    SelectChoice("inclusive", "My prices include tax (usual for VAT and GST)"),
]
KIND_CHOICES = [
    SelectChoice("standard", "VAT, GST or HST registration in that country"),
    SelectChoice("state_sales_tax", "United States: state sales tax registration"),
    SelectChoice("oss_union", "EU One-Stop Shop, Union scheme (a business based in the EU)"),
    SelectChoice("oss_non_union", "EU One-Stop Shop, non-Union scheme (a business based outside the EU)"),
    SelectChoice("simplified", "Canada: simplified GST/HST (a seller based outside Canada)"),
]
# Letters, digits, spaces and the punctuation of addresses: nothing that isn't part of one.
ADDRESS_TEXT = Regexp(r"^[\w .,'#/&()-]*$", message="Use letters, digits and the usual address punctuation only.")


def _us_needs_state(form, field) -> None:
    if form.country.data == "US" and not field.data:
        raise ValidationError("Choose the state.")


class TaxSettingsForm(FlaskForm):
    country = SelectField("Country", choices=COUNTRY_CHOICES, validators=[DataRequired("Choose your country.")])
    state = SelectField("State", choices=STATE_CHOICES, validators=[_us_needs_state], default="")
    postal_code = StringField("Postal code", validators=[Optional(), Length(max=20), ADDRESS_TEXT])
    city = StringField("City", validators=[Optional(), Length(max=100), ADDRESS_TEXT])
    line1 = StringField("Street address", validators=[Optional(), Length(max=200), ADDRESS_TEXT])
    pricing = RadioField("Your prices", choices=PRICING_CHOICES, default="exclusive")


class TaxRegistrationForm(FlaskForm):
    country = SelectField("Country", choices=COUNTRY_CHOICES, validators=[DataRequired("Choose the country.")])
    state = SelectField("State", choices=STATE_CHOICES, validators=[_us_needs_state], default="")
    kind = SelectField("Registration", choices=KIND_CHOICES, default="standard")

    def validate_kind(self, field) -> None:
        if self.country.data and field.data not in registration_kinds(self.country.data):
            allowed = ", ".join(label for _, label in registration_kinds(self.country.data).items())
            raise ValidationError(f"In {COUNTRIES.get(self.country.data, 'that country')} choose: {allowed}.")


class EndRegistrationForm(FlaskForm):
    registration_id = HiddenField(validators=[DataRequired(), Regexp(r"^taxreg_[A-Za-z0-9]{1,64}$")])
