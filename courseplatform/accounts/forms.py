"""Account forms; every rule that a user can break has a message they can act on."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional, ValidationError

from ..clientfacing import PRACTICE_COUNTRIES
from ..fields import (
    CURRENCIES,
    MoneyField,
    WholeNumberField,
    single_line,
    time_zone_choices,
    valid_email,
    valid_slug,
    valid_time_zone,
)

MIN_PASSWORD_LENGTH = 10
COMMON_PASSWORDS = frozenset(
    [
        "password",
        "password1",
        "password12",
        "password123",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "qwerty12345",
        "iloveyou123",
        "letmein123",
        "welcome123",
        "aqueduct123",
        "therapist1",
        "abcdefghij",
        "0987654321",
        "1111111111",
        "passw0rd123",
        "changeme123",
        "trustno1234",
    ]
)


def strong_password(form, field) -> None:
    """Long enough, not a famous password, not the e-mail, not one repeated character."""
    password = field.data or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        raise ValidationError("That password is too easy to guess; try a short phrase.")
    # Forms without an e-mail field (choosing a password from a link) carry the address as `account_email`.
    email_field = getattr(form, "email", None)
    email = email_field.data if email_field is not None else getattr(form, "account_email", None)
    if email and password.lower() == email.strip().lower():
        raise ValidationError("Your password can't be your e-mail address.")


def password_fields(label: str = "Password"):
    password = PasswordField(
        label,
        validators=[DataRequired(), strong_password, Length(max=256)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters. A short phrase is easy to remember.",
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", message="The two passwords don't match.")],
    )
    return password, confirm


class SignupForm(FlaskForm):
    """Who is signing up; the password is chosen from the link e-mailed to the address."""

    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("E-mail", validators=[DataRequired(), valid_email, Length(max=254)])
    time_zone = SelectField("Time zone", choices=time_zone_choices, default="UTC", validators=[valid_time_zone])


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me logged in on this device")


class ForgotPasswordForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), valid_email])


class ResetPasswordForm(FlaskForm):
    password, confirm = password_fields("New password")

    def __init__(self, *args, account_email: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account_email = account_email


class FinishSignupForm(ResetPasswordForm):
    """The password of a new account, chosen from the sign-up link."""

    password, confirm = password_fields("Choose a password")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    password, confirm = password_fields("New password")


COUNTRY_CHOICES = [
    SelectChoice("", "Elsewhere"),
    *(SelectChoice(code, name) for code, name in PRACTICE_COUNTRIES.items()),
]


class CreatorProfileForm(FlaskForm):
    display_name = StringField(
        "Name shown to learners",
        validators=[DataRequired(), Length(max=120), single_line],
        description="Usually your professional name, e.g. Dr. Ana Ruiz.",
    )
    credentials = StringField(
        "Credentials",
        validators=[Optional(), Length(max=120), single_line],
        description="Licences and degrees after your name, e.g. LCSW, PhD.",
    )
    licence = StringField(
        "Licence",
        validators=[Optional(), Length(max=200)],
        description="As your board's advertising rules ask: title, state or country, number. "
        "E.g. Licensed Clinical Social Worker, New York #012345. Shown on your offerings for the public.",
    )
    country = SelectField(
        "Where you practise",
        choices=COUNTRY_CHOICES,
        default="",
        description="Your offerings for the public show this country's crisis lines unless you give others.",
    )
    bio = TextAreaField(
        "About you",
        validators=[Optional(), Length(max=5000)],
        description="A few sentences for your storefront. Markdown is allowed.",
    )
    slug = StringField(
        "Storefront address",
        validators=[DataRequired(), Length(min=3, max=80), valid_slug],
        description="Your page will be at /t/<this>.",
    )
    currency = SelectField("Currency", choices=CURRENCIES, default="USD")
    time_zone = SelectField("Time zone", choices=time_zone_choices, validators=[valid_time_zone])
    default_session_fee_cents = MoneyField(
        "Usual fee for a 1:1 session",
        validators=[InputRequired(message="Enter your usual session fee.")],
        description="Used to work out how many sessions your courses replace.",
    )
    default_session_minutes = WholeNumberField(
        "Usual session length (minutes)",
        default=50,
        validators=[DataRequired(), NumberRange(min=10, max=240, message="Between 10 and 240 minutes.")],
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.country.data is None:  # a profile without a country practises "elsewhere"
            self.country.data = ""


class PlanCardForm(FlaskForm):
    """Test mode's "use the working test card" button on a payment plan (a CSRF token, nothing else)."""
