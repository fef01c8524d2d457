"""Amounts, numbers and dates typed by people become exact values, or a clear message."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form, StringField
from wtforms.validators import Optional

from courseplatform.fields import (
    CalendarDateField,
    HoursField,
    LocalDateTimeField,
    MoneyField,
    WholeNumberField,
    parse_money,
    parse_month,
    read_written_amount,
    valid_email,
)


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("150", 15000),
        ("150.5", 15050),
        ("150.05", 15005),
        ("1,500.50", 150050),
        ("12,50", 1250),
        ("1,500", 150000),
        ("$129", 12900),
        (" 0.75 ", 75),
        ("1 500", 150000),
    ],
)
def test_amounts_people_type(typed, cents):
    assert parse_money(typed) == cents


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("-5", "can't be negative"),
        ("150.555", "at most two decimal places"),
        ("Infinity", "such as 150"),
        ("1e3", "such as 150"),
        ("sNaN", "such as 150"),
        ("1_000", "such as 150"),
        ("１２３", "such as 150"),
        ("1.500,50", "such as 150"),
        ("99999999999", "such as 150"),
        ("2000000", "too large"),
    ],
)
def test_amounts_that_are_refused(typed, message):
    with pytest.raises(ValueError, match=message):
        parse_money(typed)


# ---------------------------------------------------------------------------
# Whole numbers, hours and dates typed into any form


class NumbersForm(Form):
    count = WholeNumberField(validators=[Optional()])
    hours = HoursField()
    day = CalendarDateField(validators=[Optional()])
    starts = LocalDateTimeField(format=["%Y-%m-%dT%H:%M"], validators=[Optional()])


def filled(**typed) -> NumbersForm:
    form = NumbersForm(MultiDict(typed))
    form.validate()
    return form


@pytest.mark.parametrize(
    ("typed", "value"), [("12", 12), (" 7 ", 7), ("-3", -3), ("", None), (str(2**31 - 1), 2**31 - 1)]
)
def test_whole_numbers_people_type(typed, value):
    form = filled(count=typed)
    assert form.count.data == value and form.count.errors == []


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("NaN", "Enter a whole number."),
        ("inf", "Enter a whole number."),
        ("1e400", "Enter a whole number."),
        ("1_000", "Enter a whole number."),
        ("٣", "Enter a whole number."),
        ("²", "Enter a whole number."),
        ("9" * 5000, "That number is far too large."),
        (str(2**31), "That number is far too large."),
        (str(2**63), "That number is far too large."),
    ],
)
def test_whole_numbers_that_are_refused(typed, message):
    form = filled(count=typed)
    assert form.count.errors == [message] and form.count.data is None


@pytest.mark.parametrize(("typed", "minutes"), [("1.5", 90), ("0,75", 45), (".5", 30), ("3", 180), ("1000", 60_000)])
def test_hours_people_type(typed, minutes):
    assert filled(hours=typed).hours.data == minutes


@pytest.mark.parametrize("typed", ["NaN", "sNaN", "-Infinity", "Infinity", "1e400", "1e3", "٣", "1.5.2", "1001"])
def test_hours_that_are_refused(typed):
    form = filled(hours=typed)
    assert form.hours.data is None and len(form.hours.errors) == 1


@pytest.mark.parametrize(
    ("field", "typed"),
    [
        ("day", "9999-12-31"),
        ("day", "1999-12-31"),
        ("day", "0001-01-01"),
        ("starts", "9999-12-31T23:59"),
        ("starts", "2101-01-01T00:00"),
    ],
)
def test_dates_outside_2000_to_2100_are_refused(field, typed):
    form = filled(**{field: typed})
    assert form[field].errors == ["Enter a date between 2000 and 2100."] and form[field].data is None


def test_dates_inside_2000_to_2100_are_taken():
    form = filled(day="2100-12-31", starts="2000-01-01T00:00")
    assert (form.day.data.year, form.starts.data.year) == (2100, 2000)


def test_a_ten_megabyte_email_is_refused_before_the_full_check():
    class EmailForm(Form):
        email = StringField(validators=[valid_email])

    form = EmailForm(MultiDict({"email": "a" * (10 * 1024 * 1024) + "@example.org"}))
    assert not form.validate()
    assert form.email.errors == ["An e-mail address has at most 254 characters."]


@pytest.mark.parametrize(("cents", "shown"), [(15000, "150"), (15050, "150.50"), (5, "0.05"), (-1250, "-12.50")])
def test_an_amount_shown_back_in_its_field_is_the_amount_stored(cents, shown):
    class AmountForm(Form):
        amount = MoneyField("Amount")

    assert AmountForm(amount=cents).amount._value() == shown


@pytest.mark.parametrize(
    ("typed", "month"),
    [
        ("2026-03", date(2026, 3, 1)),
        ("2026-3", date(2026, 3, 1)),
        (" 2000-01 ", date(2000, 1, 1)),
        ("2999-01", date(2999, 1, 1)),
    ],
)
def test_months_people_type(typed, month):
    assert parse_month(typed) == month


@pytest.mark.parametrize("typed", ["2026-13", "2026-00", "1999-12", "٢٠٢٦-٠٣", "2026-003", "march", "", None])
def test_months_that_are_refused(typed):
    assert parse_month(typed) is None


@pytest.mark.parametrize(
    ("written", "amount", "currency"),
    [
        ("90,00 €", "90.00", "EUR"),
        ("1.234,50 €", "1234.50", "EUR"),
        ("EUR 1 234,50", "1234.50", "EUR"),
        ("€ 90", "90", "EUR"),
        ("CA$150.00", "150.00", "CAD"),  # as Aqueduct prints Canadian dollars
        ("A$150", "150", "AUD"),
        ("NZ$80", "80", "NZD"),
        ("US$150", "150", "USD"),
        ("150 USD", "150", "USD"),
        ("$1,234.50", "1234.50", "$"),
        ("£1,250.00", "1250.00", "GBP"),
        ("1'234.50", "1234.50", None),  # Swiss grouping
        ("12,50", "12.50", None),
        ("150", "150", None),
        ("($25.00)", "-25.00", "$"),  # an accountant's refund
        ("-$25.00", "-25.00", "$"),
        ("$-25", "-25", "$"),
        ("25-", "-25", None),
        ("−25", "-25", None),  # the minus sign, not a hyphen
    ],
)
def test_amounts_are_read_as_exports_write_them(written, amount, currency):
    read = read_written_amount(written)
    assert (read.amount, read.currency) == (Decimal(amount), currency)


@pytest.mark.parametrize(
    "written",
    ["", "abc", "12 abc", "5 5", "12,345.678", "1,234.567", "--5", "(-5)", "-5-", "$$5", "USD", "1e5", "NaN",
     "Infinity", "١٢٣", "12\x00", "9" * 50, "0x10"],
)  # fmt: skip
def test_what_is_not_an_amount_is_refused_with_a_message(written):
    with pytest.raises(ValueError, match="amount"):
        read_written_amount(written)


def test_an_amount_may_be_read_in_a_currency_it_does_not_name_otherwise():
    assert read_written_amount("$150").in_currency("CAD") and read_written_amount("150").in_currency("JPY")
    assert not read_written_amount("CA$150").in_currency("USD")
    assert not read_written_amount("$150").in_currency("EUR")
