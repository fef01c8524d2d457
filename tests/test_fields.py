"""Amounts typed by people become exact integer minor units, or a clear message."""

from __future__ import annotations

import pytest

from courseplatform.fields import parse_money


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
