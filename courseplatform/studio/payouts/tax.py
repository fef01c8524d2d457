"""A creator's sales tax and VAT, when the operator has turned Stripe Tax on (STRIPE_TAX).

The creator is the liable party: Stripe Tax works out the tax of each sale from their head office,
the places they are registered to collect tax, and the learner's address. Express accounts have no
Stripe Dashboard, so the studio sets these through Stripe's Tax Settings and Tax Registrations APIs
(Stripe's guide for software platforms); Stripe keeps them, and the studio reads them back from it.

- `tax_overview`: the settings and registrations as Stripe has them now, remembering on the profile
  whether the settings are active (checkouts carry automatic tax only then).
- `save_tax_settings`: the head office and whether prices include tax.
- `add_registration` / `end_registration`: where tax is collected.

Functions flush and never commit: the caller's request commits once.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from ...extensions import db
from ...integrations.payments import (
    EU_COUNTRIES,
    PaymentsError,
    TaxAddress,
    TaxRegistration,
    TaxSettings,
    get_payments,
)
from ...models import CreatorProfile

# Where Stripe Tax can work out tax on digital services and a therapist is likely to sell from or into.
COUNTRIES = {
    "AT": "Austria",
    "AU": "Australia",
    "BE": "Belgium",
    "BG": "Bulgaria",
    "CA": "Canada",
    "CH": "Switzerland",
    "CY": "Cyprus",
    "CZ": "Czechia",
    "DE": "Germany",
    "DK": "Denmark",
    "EE": "Estonia",
    "ES": "Spain",
    "FI": "Finland",
    "FR": "France",
    "GB": "United Kingdom",
    "GR": "Greece",
    "HR": "Croatia",
    "HU": "Hungary",
    "IE": "Ireland",
    "IT": "Italy",
    "LT": "Lithuania",
    "LU": "Luxembourg",
    "LV": "Latvia",
    "MT": "Malta",
    "NL": "Netherlands",
    "NO": "Norway",
    "NZ": "New Zealand",
    "PL": "Poland",
    "PT": "Portugal",
    "RO": "Romania",
    "SE": "Sweden",
    "SG": "Singapore",
    "SI": "Slovenia",
    "SK": "Slovakia",
    "US": "United States",
}
US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}  # fmt: skip

# The kinds of registration a creator can add, in words, by where (Stripe's `type` for each).
EU_KINDS = {
    "standard": "VAT registration here (EU sales under €10,000 a year: this country's VAT)",
    "oss_union": "EU One-Stop Shop, Union scheme (a business based in the EU)",
    "oss_non_union": "EU One-Stop Shop, non-Union scheme (a business based outside the EU)",
}
CA_KINDS = {"standard": "GST/HST registration", "simplified": "Simplified GST/HST (a seller based outside Canada)"}
US_KINDS = {"state_sales_tax": "State sales tax registration"}
OTHER_KINDS = {"standard": "GST or VAT registration"}


def registration_kinds(country: str) -> dict[str, str]:
    """The registrations a creator may add in a country: Stripe's type -> what it means."""
    if country == "US":
        return US_KINDS
    if country == "CA":
        return CA_KINDS
    if country in EU_COUNTRIES:
        return EU_KINDS
    return OTHER_KINDS


def kind_label(registration: TaxRegistration) -> str:
    return registration_kinds(registration.country).get(registration.type, registration.type.replace("_", " "))


def place_label(country: str, state: str = "") -> str:
    name = COUNTRIES.get(country, country)
    return f"{US_STATES.get(state, state)}, {name}" if state else name


class TaxSetupError(Exception):
    """The settings couldn't be read or changed; `message` tells the creator why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class TaxOverview:
    settings: TaxSettings
    registrations: list[TaxRegistration]

    @property
    def current(self) -> list[TaxRegistration]:
        """Registrations in force or starting later (ended ones are history)."""
        return [r for r in self.registrations if r.status in ("active", "scheduled")]

    @property
    def ended(self) -> list[TaxRegistration]:
        return [r for r in self.registrations if r.status == "expired"]


def _said(exc: PaymentsError) -> str:
    """Stripe's refusal as it put it, or, when Stripe couldn't be asked, that nothing changed."""
    if exc.retryable:
        return "We couldn't reach Stripe just now, so nothing about your tax was read or changed. Please try again."
    return exc.message


def tax_enabled() -> bool:
    return bool(current_app.config["STRIPE_TAX"])


def _account(profile: CreatorProfile) -> str:
    if not tax_enabled():
        raise TaxSetupError("Tax collection isn't turned on for this site.")
    if not profile.stripe_account_id:
        raise TaxSetupError("Connect your Stripe account first: tax is collected by it, for you.")
    return profile.stripe_account_id


def tax_overview(profile: CreatorProfile) -> TaxOverview:
    """What Stripe has for the creator now, remembering whether their settings are active."""
    account = _account(profile)
    payments = get_payments()
    try:
        settings = payments.tax_settings(account)
        registrations = payments.tax_registrations(account)
    except PaymentsError as exc:
        raise TaxSetupError(_said(exc)) from exc
    _remember(profile, settings)
    order = {"active": 0, "scheduled": 1, "expired": 2}
    registrations.sort(key=lambda r: (order.get(r.status, 3), place_label(r.country, r.state)))
    return TaxOverview(settings, registrations)


def _remember(profile: CreatorProfile, settings: TaxSettings) -> None:
    if profile.stripe_tax_active != settings.is_active:
        profile.stripe_tax_active = settings.is_active
        db.session.flush()


def save_tax_settings(profile: CreatorProfile, head_office: TaxAddress, *, prices_include_tax: bool) -> TaxSettings:
    """The creator's head office and pricing, at Stripe and on the profile."""
    account = _account(profile)
    try:
        settings = get_payments().update_tax_settings(account, head_office, prices_include_tax=prices_include_tax)
    except PaymentsError as exc:
        raise TaxSetupError(_said(exc)) from exc
    profile.prices_include_tax = prices_include_tax
    _remember(profile, settings)
    return settings


def add_registration(profile: CreatorProfile, country: str, kind: str, state: str = "") -> TaxRegistration:
    """A place the creator is registered to collect tax, from now on."""
    account = _account(profile)
    if country not in COUNTRIES:
        raise TaxSetupError("Choose a country from the list.")
    if kind not in registration_kinds(country):
        raise TaxSetupError(f"Choose the kind of registration you hold in {COUNTRIES[country]}.")
    if country == "US" and state not in US_STATES:
        raise TaxSetupError("Choose the state you're registered in.")
    try:
        return get_payments().add_tax_registration(account, country, kind, state if country == "US" else "")
    except PaymentsError as exc:
        raise TaxSetupError(_said(exc)) from exc


def end_registration(profile: CreatorProfile, registration_id: str) -> TaxRegistration:
    """Stop collecting tax in a place from now on (Stripe keeps the registration's history)."""
    account = _account(profile)
    try:
        return get_payments().end_tax_registration(account, registration_id)
    except PaymentsError as exc:
        raise TaxSetupError(_said(exc)) from exc
