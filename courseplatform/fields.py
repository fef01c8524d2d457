"""Form fields shared by several features: money, numbers, dates, time zones, currencies, slugs, filters.

Every number and date a person types goes through one of these, so hostile input (NaN,
"1e400", 2**63, Arabic-Indic digits, year 9999) is a form error with a message, never a
server error or a value the database refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from price_parser import Price
from wtforms import (  # type: ignore[attr-defined]  # types-WTForms lacks SelectChoice (WTForms 3.2)
    DateField,
    DateTimeLocalField,
    Form,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import Length, ValidationError

from .formatting import CURRENCY_SYMBOLS, decimal_amount, minor_units
from .ids import MAX_INTEGER

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


MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a whole address


LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")


def stripped(value):
    """A form filter: text without the spaces around it (anything else as it came)."""
    return value.strip() if isinstance(value, str) else value


def single_line(form, field) -> None:
    """One line of text (a name, an e-mail's subject): a line break would end up inside an e-mail header."""
    if isinstance(field.data, str) and LINE_BREAKS.search(field.data):
        raise ValidationError("Keep this to one line.")


def one_line(text: str) -> str:
    """Text for an e-mail header: line breaks and runs of spaces as one space."""
    return " ".join(LINE_BREAKS.sub(" ", text).split())


def valid_email(form, field) -> None:
    """A well-formed address. Reserved test domains such as `.test` are allowed (the demo uses them)."""
    if len(field.data or "") > MAX_EMAIL_LENGTH:
        # Checked first: the full check of a megabyte of text takes seconds.
        raise ValidationError(f"An e-mail address has at most {MAX_EMAIL_LENGTH} characters.")
    try:
        validate_email(field.data or "", check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValidationError("Enter an e-mail address such as name@example.com.") from exc


def web_address(example: str):
    """A validator of an http(s) link (a Zoom room, a colleague's site): nothing else can be clicked safely."""

    def check(form, field) -> None:
        value = (field.data or "").strip()
        if not value:
            return
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
            raise ValidationError(f"Enter a web address starting with https://, such as {example}.")

    return check


def mailbox_of(email: str) -> str:
    """The mailbox an address is delivered to, in one spelling for all of its spellings.

    `Ana@Exämple.org`, `ana@xn--exmple-cua.org` and `ana@ｅxämple.org` reach one mailbox: the
    domain is read as IDNA reads it (ASCII, punycode), the whole address in lower case. Text
    that is no address is only trimmed and lowered.
    """
    text = email.strip()
    if len(text) <= MAX_EMAIL_LENGTH:
        try:
            address = validate_email(text, check_deliverability=False, test_environment=True)
        except EmailNotValidError:
            pass
        else:
            text = f"{address.local_part}@{address.ascii_domain}"
    return text.lower()


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


# Currency marks as Aqueduct prints them (formatting.CURRENCY_SYMBOLS) and as exports also write them,
# longest first so "CA$" is tried before "$"; "$" alone names no one dollar.
_MARKS = {symbol: code for code, symbol in CURRENCY_SYMBOLS.items() if symbol != "$"}
_MARKS |= {"US$": "USD", "C$": "CAD", "AU$": "AUD", "$": "$"}
CURRENCY_MARKS = dict(sorted(_MARKS.items(), key=lambda mark: -len(mark[0])))
DOLLARS = frozenset(code for code, symbol in CURRENCY_SYMBOLS.items() if symbol.endswith("$"))
# The shapes a written amount takes once its currency and sign are off: groups of three (by comma, point,
# apostrophe or space) and up to two decimals, or plain digits. price-parser tells the decimal mark; this
# only refuses what it would read too kindly ("5 5" as 55, "12,345.678").
AMOUNT_SHAPE = re.compile(
    r"[0-9]{1,3}(?:(?P<group>[,.' \u00a0\u202f])[0-9]{3}(?:(?P=group)[0-9]{3})*)?(?:(?!(?P=group))[.,][0-9]{1,2})?"
    r"|[0-9]+(?:[.,][0-9]{1,2})?"
)


@dataclass(frozen=True)
class WrittenAmount:
    """An amount as an export writes it: signed (a refund or adjustment is negative), with its currency
    when the text names one: an ISO code, or a code from its mark ("CA$", "€"); "$" alone is any dollar."""

    amount: Decimal
    currency: str | None

    def in_currency(self, currency: str) -> bool:
        """Whether the amount may be read as `currency` (it names no other)."""
        if self.currency is None:
            return True
        if self.currency == "$":
            return currency.upper() in DOLLARS
        return self.currency == currency.upper()

    def minor_units(self, currency: str) -> int:
        return int(self.amount * minor_units(currency))


def read_written_amount(text: str) -> WrittenAmount:
    """`90,00 €`, `1.234,50 €`, `CA$150.00`, `A$150`, `($25.00)`, `-25`, `EUR 1 234,50`… as a signed amount.

    Raises ValueError with a message for anything else (words, exponents, three decimals, non-ASCII digits).
    """
    raw = " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())
    if not raw or len(raw) > 40:
        raise ValueError("Enter an amount such as 150, 150.00 or 90,00 €.")
    negative = raw.startswith("(") and raw.endswith(")")  # accountants' negative
    if negative:
        raw = raw[1:-1].strip()
    raw, minus = _without_minus(raw)
    currency = None
    code = re.match(r"^([A-Z]{3})\s*(.*)$|^(.*?)\s*([A-Z]{3})$", raw)
    if code:
        currency, raw = (code[1], code[2]) if code[1] else (code[4], code[3])
    else:
        for mark, named in CURRENCY_MARKS.items():
            if raw.startswith(mark) or raw.endswith(mark):
                currency, raw = named, (raw[len(mark) :] if raw.startswith(mark) else raw[: -len(mark)]).strip()
                break
    if not minus:  # "$-25", "€ -90"
        raw, minus = _without_minus(raw)
    if minus and negative:
        raise ValueError("Enter an amount such as 150, 150.00 or 90,00 €.")  # "(-5)": which is meant?
    negative = negative or minus
    if not raw.isascii() or not AMOUNT_SHAPE.fullmatch(raw):
        raise ValueError("Enter an amount such as 150, 150.00 or 90,00 €.")
    price = Price.fromstring(raw)
    amount = price.amount
    if amount is None or not amount.is_finite():
        raise ValueError("Enter an amount such as 150, 150.00 or 90,00 €.")
    if amount * 100 > MAX_MONEY_CENTS:
        raise ValueError("That amount is too large.")
    return WrittenAmount(-amount if negative else amount, currency)


def _without_minus(text: str) -> tuple[str, bool]:
    """The text without one leading or trailing minus (hyphen or the minus sign), and whether it had one."""
    for minus in ("-", "\u2212"):
        if text.startswith(minus):
            return text[1:].strip(), True
        if text.endswith(minus):
            return text[:-1].strip(), True
    return text, False


class MoneyField(StringField):
    """An amount typed as `150`, `150.00`, `1,500.50` or `12,50`, held as integer minor units."""

    data: int | None  # type: ignore[assignment]  # held as a number, read as text

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        shown = decimal_amount(int(self.data), "USD")  # the field reads hundredths, whatever the currency
        return shown.removesuffix(".00")

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = parse_money(valuelist[0])
        except ValueError:
            self.data = None
            raise


# ---------------------------------------------------------------------------
# Numbers

# No whole number a form takes is ever larger than a database integer holds.
MAX_WHOLE_NUMBER = MAX_INTEGER
# ASCII digits only: int() would read "٣" (Arabic-Indic three) and "1_000" too.
WHOLE_NUMBER_RE = re.compile(r"-?[0-9]+")
# 3, 1.5, 0,75, .5 or 5. in ASCII digits: no sign, exponent, NaN or Infinity.
DECIMAL_RE = re.compile(r"[0-9]{1,9}(?:[.,][0-9]{0,6})?|[.,][0-9]{1,6}")


class WholeNumberField(IntegerField):
    """A whole number typed in ASCII digits, within what the database holds; anything else is a form error.

    A blank box is None (the field's validators say whether that is allowed).
    """

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = valuelist[0].strip() if isinstance(valuelist[0], str) else ""
        if not raw:
            self.data = None
            return
        if not WHOLE_NUMBER_RE.fullmatch(raw):
            self.data = None
            raise ValueError("Enter a whole number.")
        # Length first: int() of thousands of digits is slow, then refused by Python itself.
        if len(raw.lstrip("-")) > len(str(MAX_WHOLE_NUMBER)) or abs(int(raw)) > MAX_WHOLE_NUMBER:
            self.data = None
            raise ValueError("That number is far too large.")
        self.data = int(raw)


class HoursField(StringField):
    """Hours typed as `3`, `1.5` or `0.75` (up to 1000), held as whole minutes."""

    data: int | None  # type: ignore[assignment]  # held as minutes, read as text

    def process_formdata(self, valuelist):
        raw = (valuelist[0] if valuelist else "").strip()
        if not raw:
            self.data = None
            return
        self.data = None
        if raw.startswith("-"):
            raise ValueError("Enter a number of hours between 0 and 1000.")
        if not DECIMAL_RE.fullmatch(raw):
            raise ValueError("Enter hours as a number, e.g. 1.5.")
        try:
            hours = Decimal(raw.replace(",", "."))
        except InvalidOperation as exc:  # the pattern lets through only what Decimal reads; kept as a guard
            raise ValueError("Enter hours as a number, e.g. 1.5.") from exc
        if hours > 1000:
            raise ValueError("Enter a number of hours between 0 and 1000.")
        self.data = int((hours * 60).to_integral_value())

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return f"{self.data / 60:g}"


# ---------------------------------------------------------------------------
# Dates

# The years a date typed in a form may fall in: wide enough for any session, course or record,
# narrow enough that adding a duration or moving to another time zone never leaves the calendar.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)
MONTH_RE = re.compile(r"([0-9]{4})-([0-9]{1,2})")  # ASCII digits: `\d` would take other scripts' digits too


def parse_month(text: str | None) -> date | None:
    """`"2026-03"` (or `"2026-3"`) → the 1st of that month; None for anything else or before EARLIEST_DATE.

    A month still to come is a month: each form says what it makes of one ("hasn't started yet").
    """
    match = MONTH_RE.fullmatch((text or "").strip())
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12 or year < EARLIEST_DATE.year:
        return None
    return date(year, month, 1)


DATE_RANGE_MESSAGE = f"Enter a date between {EARLIEST_DATE.year} and {LATEST_DATE.year}."


def _within_calendar(value: date | datetime | None, early: str = DATE_RANGE_MESSAGE, late: str = DATE_RANGE_MESSAGE):
    day = value.date() if isinstance(value, datetime) else value
    if day is not None and day < EARLIEST_DATE:
        raise ValueError(early)
    if day is not None and day > LATEST_DATE:
        raise ValueError(late)


class CalendarDateField(DateField):
    """A date (2026-03-05) between EARLIEST_DATE and LATEST_DATE."""

    def __init__(
        self,
        *args,
        invalid_message: str = "Enter a date such as 2026-03-05.",
        early_message: str = DATE_RANGE_MESSAGE,
        late_message: str = DATE_RANGE_MESSAGE,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.invalid_message = invalid_message
        self.early_message = early_message
        self.late_message = late_message

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(self.invalid_message) from exc
        try:
            _within_calendar(self.data, self.early_message, self.late_message)
        except ValueError:
            self.data = None
            raise


class LocalDateTimeField(DateTimeLocalField):
    """A wall-clock date and time (2026-03-14 19:00) between EARLIEST_DATE and LATEST_DATE."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        try:
            _within_calendar(self.data)
        except ValueError:
            self.data = None
            raise


# ---------------------------------------------------------------------------
# Filters and pages read from a link's query string

MAX_PAGE = 10_000  # far past any real list; keeps OFFSET inside what every database accepts
PAGE_RE = re.compile(r"[0-9]{1,18}")


def page_number(args) -> int:
    """`?page=` as a page from 1 to MAX_PAGE; blank, negative or not a number is page 1."""
    raw = (args.get("page") or "").strip()
    if not PAGE_RE.fullmatch(raw):
        return 1
    return min(max(int(raw), 1), MAX_PAGE)


class QueryForm(Form):
    """Filters read from a link's query string: a mistyped or stale link still shows the list.

    `settle()` (called once the choices are set) puts a select holding an unknown or blank value
    back to its default, and cuts text longer than its limit; such a form never shows an error.
    """

    class Meta:
        csrf = False

    def settle(self) -> None:
        self.validate()
        for field in self:
            if isinstance(field, SelectField):
                try:
                    field.pre_validate(self)
                    known = True
                except ValueError:
                    known = False
                if not known or (isinstance(field.data, str) and field.data and not field.data.strip()):
                    field.data = field.default if field.default is not None else ""
            elif isinstance(field.data, str):
                limits = [v.max for v in field.validators if isinstance(v, Length) and v.max and v.max > 0]  # type: ignore[attr-defined]  # isinstance does not narrow the stubs' validator type
                if limits:
                    field.data = field.data[: min(limits)]
            field.errors = []
