"""Form fields shared by several features: money, time zones, currencies, slugs."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import cache
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from wtforms import SelectChoice, StringField
from wtforms.validators import ValidationError

CURRENCIES = [
    SelectChoice("USD", "US dollar (USD)"),
    SelectChoice("CAD", "Canadian dollar (CAD)"),
    SelectChoice("GBP", "British pound (GBP)"),
    SelectChoice("EUR", "Euro (EUR)"),
    SelectChoice("AUD", "Australian dollar (AUD)"),
    SelectChoice("NZD", "New Zealand dollar (NZD)"),
]

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def slugify(text: str, max_length: int = 80) -> str:
    """`"Dr. Ana Ruiz, LCSW"` → `"dr-ana-ruiz-lcsw"`."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "untitled"


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone a person might live in, as (value, label) pairs."""
    zones = sorted(
        z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/", "right/"))
    )
    return [("UTC", "UTC"), *[(z, z.replace("_", " ")) for z in zones]]


def valid_time_zone(form, field) -> None:
    if field.data not in dict(time_zone_choices()):
        raise ValidationError("Choose a time zone from the list.")


def valid_email(form, field) -> None:
    """A well-formed address. Reserved test domains such as `.test` are allowed (the demo uses them)."""
    try:
        validate_email(field.data or "", check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValidationError("Enter an e-mail address such as name@example.com.") from exc


def valid_slug(form, field) -> None:
    if not SLUG_RE.match(field.data or ""):
        raise ValidationError("Use lowercase letters, numbers and single hyphens, e.g. ana-ruiz-lcsw.")


class MoneyField(StringField):
    """An amount typed as `150`, `150.00` or `1,500.50`, held as integer minor units."""

    def __init__(self, label=None, validators=None, minimum_cents: int = 0, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.minimum_cents = minimum_cents
        self.cents: int | None = None

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        whole, minor = divmod(int(self.data), 100)
        return f"{whole}.{minor:02d}" if minor else str(whole)

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        raw = valuelist[0].strip().replace(",", "").lstrip("$£€")
        try:
            amount = Decimal(raw)
        except InvalidOperation as exc:
            self.data = None
            raise ValueError("Enter an amount such as 150 or 150.00.") from exc
        if amount != amount.quantize(Decimal("0.01")):
            self.data = None
            raise ValueError("Use at most two decimal places.")
        cents = int(amount * 100)
        if cents < self.minimum_cents:
            self.data = None
            raise ValueError(
                "The amount can't be negative." if self.minimum_cents == 0 else "The amount is below the minimum."
            )
        if cents > 100_000_000:
            self.data = None
            raise ValueError("That amount is too large.")
        self.data = cents
