"""Form fields shared by several features: money, time zones, currencies, slugs."""

from __future__ import annotations

import re
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


MONEY_PATTERNS = [
    # 1,500.50 or 1500.50 or 1500 (comma groups thousands, point is decimal)
    (re.compile(r"^[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{1,2})?$"), ",", "."),
    # 1500 or 1500.5 or 1500,50 (no grouping; either mark is decimal)
    (re.compile(r"^[0-9]{1,9}(?:[.,][0-9]{1,2})?$"), "", None),
]
MAX_MONEY_CENTS = 100_000_000


def parse_money(text: str) -> int:
    """`"150"`, `"150.5"`, `"1,500.50"`, `"12,50"` → integer minor units.

    Raises ValueError with a message for anything else (signs, exponents, "Infinity"…).
    """
    raw = text.strip().lstrip("$£€").strip().replace(" ", "").replace("\u00a0", "")
    if raw.startswith("-"):
        raise ValueError("The amount can't be negative.")
    for pattern, grouping, decimal in MONEY_PATTERNS:
        if pattern.match(raw):
            if grouping:
                raw = raw.replace(grouping, "")
            whole, _, minor = raw.replace(",", ".").partition(".") if decimal is None else raw.partition(decimal)
            cents = int(whole) * 100 + int((minor or "0").ljust(2, "0"))
            if cents > MAX_MONEY_CENTS:
                raise ValueError("That amount is too large.")
            return cents
    if re.match(r"^[0-9]+[.,][0-9]{3,}$", raw):
        raise ValueError("Use at most two decimal places.")
    raise ValueError("Enter an amount such as 150 or 150.00.")


class MoneyField(StringField):
    """An amount typed as `150`, `150.00`, `1,500.50` or `12,50`, held as integer minor units."""

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
        try:
            self.data = parse_money(valuelist[0])
        except ValueError:
            self.data = None
            raise
