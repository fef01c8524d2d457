"""Dates on pages: an instant too close to year 9999 (or year 1) to move to a time zone is shown in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from courseplatform.formatting import format_date, in_zone, known_zone, zone_or_utc


def test_a_far_instant_east_of_utc_is_shown_in_utc_instead_of_failing():
    far = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)

    assert in_zone(far, "Pacific/Auckland") == far
    assert format_date(far, "Pacific/Auckland", "%Y-%m-%d %H:%M %Z") == "9999-12-31 23:00 UTC"


def test_an_early_instant_west_of_utc_is_shown_in_utc_instead_of_failing():
    early = datetime(1, 1, 1, 2, 0, tzinfo=UTC)

    assert format_date(early, "America/Los_Angeles", "%b %-d %H:%M %Z") == "Jan 1 02:00 UTC"


def test_ordinary_instants_are_shown_in_the_zone_asked_for():
    assert format_date(datetime(2026, 3, 2, 0, 0, tzinfo=UTC), "America/New_York", "%b %-d, %-I %p") == "Mar 1, 7 PM"


@pytest.mark.parametrize("name", ["Nowhere/Else", "America", "../etc/passwd", "", None, "Europe/Berlin\x00"])
def test_a_zone_this_machine_does_not_know_reads_as_utc(name):
    assert known_zone(name) is None
    assert zone_or_utc(name) == ZoneInfo("UTC")


def test_a_known_zone_is_itself():
    assert known_zone("America/Los_Angeles") == "America/Los_Angeles"
    assert zone_or_utc("Asia/Kolkata") == ZoneInfo("Asia/Kolkata")


def test_every_order_status_has_one_label_for_staff_and_one_for_the_buyer():
    from courseplatform.models import OrderStatus

    assert {status.label for status in OrderStatus} >= {"Pending", "Paid", "Partly refunded", "Refunded"}
    assert OrderStatus.PENDING.learner_label == "Awaiting payment"
    assert OrderStatus.FAILED.learner_label == OrderStatus.EXPIRED.learner_label == "Not completed"
    assert OrderStatus.PARTIALLY_REFUNDED.learner_label == OrderStatus.PARTIALLY_REFUNDED.label
