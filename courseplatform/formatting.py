"""How money, dates and durations read on a page."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

CURRENCY_SYMBOLS = {"USD": "$", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "GBP": "£", "EUR": "€"}
# Stripe's zero-decimal currencies: an amount is a count of whole units, not hundredths.
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
# Stripe's three-decimal currencies (amounts in thousandths).
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def minor_units(currency: str) -> int:
    """How many minor units (what amounts are stored in) make one unit of `currency`."""
    code = currency.upper()
    return 1 if code in ZERO_DECIMAL else 1000 if code in THREE_DECIMAL else 100


def decimal_amount(cents: int, currency: str) -> str:
    """`-1250, "USD"` → `-12.50`; `5000, "JPY"` → `5000`: an amount as a number a spreadsheet reads as one."""
    units = minor_units(currency)
    sign = "-" if cents < 0 else ""
    whole, minor = divmod(abs(cents), units)
    if units == 1:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{minor:0{len(str(units)) - 1}d}"


def format_money(cents: int | None, currency: str = "USD", *, free_label: str | None = None) -> str:
    """`12900, "USD"` → `$129`; `12950` → `$129.50`; 0 with a label → that label."""
    if cents is None:
        return ""
    if cents == 0 and free_label:
        return free_label
    symbol = CURRENCY_SYMBOLS.get(currency.upper(), currency.upper() + " ")
    if currency.upper() in ZERO_DECIMAL:
        return f"{symbol}{cents:,}"
    sign = "-" if cents < 0 else ""
    whole, minor = divmod(abs(cents), 100)
    if minor:
        return f"{sign}{symbol}{whole:,}.{minor:02d}"
    return f"{sign}{symbol}{whole:,}"


def known_zone(name: str | None) -> str | None:
    """The zone's name if this machine knows it, else None (a name stored long ago may no longer exist)."""
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # unknown, malformed (`../x`), or a folder of zones (`America`)
        return None
    return name


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The named zone, or UTC when there is none or this machine doesn't know it."""
    return ZoneInfo(known_zone(name) or "UTC")


def in_zone(instant: datetime, zone: str) -> datetime:
    """The instant on the clocks of `zone`; one too close to year 1 or 9999 to move there is shown in UTC.

    Forms refuse such dates, but one stored before they did must not take its pages down.
    """
    try:
        return instant.astimezone(ZoneInfo(zone))
    except OverflowError:
        return instant.astimezone(UTC)


def format_date(value: datetime | date | None, zone: str | None = None, fmt: str = "%b %-d, %Y") -> str:
    """A date (or an instant shown in `zone`) in a friendly form."""
    if value is None:
        return ""
    if isinstance(value, datetime) and zone:
        value = in_zone(value, zone)
    return value.strftime(fmt)


def format_duration(seconds: int | None) -> str:
    """`3725` → `1 h 2 min`; `95` → `2 min`."""
    if not seconds:
        return ""
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def format_size(n: int | None) -> str:
    """`1536` → `1.5 KB`; `734003200` → `700 MB`; sizes in binary units, as file managers show them."""
    if not n:
        return "0 KB"
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


# How receipts name the tax ids Stripe collects most (its `type`); any other reads as its type in capitals.
TAX_ID_LABELS = {
    "eu_vat": "EU VAT",
    "eu_oss_vat": "EU OSS VAT",
    "gb_vat": "UK VAT",
    "au_abn": "ABN",
    "nz_gst": "NZ GST",
    "ca_bn": "Canada BN",
    "ca_gst_hst": "GST/HST",
}


def tax_id_label(kind: str | None) -> str:
    """`eu_vat` → `EU VAT`: a tax id's type as a receipt prints it."""
    if not kind:
        return ""
    return TAX_ID_LABELS.get(kind, kind.replace("_", " ").upper())


def plan_payment(plan) -> str:
    """What each payment of a plan or membership charges, with its tax said: `$53.35 ($49 and $4.35 tax)`."""
    charge = format_money(plan.charge_cents, plan.currency)
    if not plan.tax_cents:
        return charge
    if plan.tax_included:
        return f"{charge} (tax included)"
    price, tax = format_money(plan.instalment_cents, plan.currency), format_money(plan.tax_cents, plan.currency)
    return f"{charge} ({price} and {tax} tax)"
