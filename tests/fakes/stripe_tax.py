"""The fake Stripe's Stripe Tax: tax settings, tax registrations, automatic tax on Checkout Sessions and
subscription invoices, tax ID collection and the customers' tax IDs.

Mixed into :class:`tests.fakes.stripe_api.FakeStripe`. Each account has its own settings and registrations,
reached through the API with the ``Stripe-Account`` header (without it: the platform's). The platform's
settings start ``active`` (head office in California, as Stripe's own fixture has it); a connected account's
start ``pending`` until its head office is set.

How much tax there is, is the fake's business, not Stripe's rule book: a test sets the rate at a buyer's
location (:meth:`TaxMixin.set_tax_rate`; by default there is none, so no tax) and the fake applies it only
where the liable account has an active registration covering the buyer (the state too in the US), and not at
all to a buyer with a tax ID from another country than the liable account's head office (reverse charge).
Amounts are rounded half up in minor units: exclusive tax on (subtotal − discount), inclusive tax as
``taxable − taxable / (1 + rate)``.
"""

from __future__ import annotations

import copy
import functools
import typing
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import stripe
from stripe.params.tax import _registration_create_params as _registration_params

if TYPE_CHECKING:
    from .stripe_api import JSON


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: ISO 3166-1 alpha-2, the country codes Stripe takes in addresses.
ISO_COUNTRIES = _codes(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO
    FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE
    JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO
    MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM
    TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """
)
#: The EU's member states: a One-Stop-Shop registration in one of them covers sales to all of them.
EU_COUNTRIES = _codes("AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK")
_OSS_TYPES = ("oss_union", "oss_non_union")
#: With ``defaults[tax_behavior]=inferred_by_currency``, prices in these currencies are exclusive of tax, others
#: inclusive (as in the US and Canada, where prices are shown before sales tax).
_EXCLUSIVE_CURRENCIES = frozenset({"usd", "cad"})
_TAX_BEHAVIORS = ("inclusive", "exclusive", "unspecified")
_REGISTRATION_STATUSES = ("active", "all", "expired", "scheduled")


def _api():
    from . import stripe_api

    return stripe_api


def _literals(annotation: Any) -> frozenset[str]:
    """The string values a stripe-python annotation names (``Literal[...]`` inside unions, at any depth)."""
    if typing.get_origin(annotation) is typing.Literal:
        return frozenset(str(value) for value in typing.get_args(annotation))
    return frozenset(value for arg in typing.get_args(annotation) for value in _literals(arg))


@functools.cache
def _registration_options() -> dict[str, Any]:
    """``country_options`` as stripe-python's params type them: lower-case country → its options' TypedDict."""
    return typing.get_type_hints(_registration_params.RegistrationCreateParamsCountryOptions)


@functools.cache
def tax_id_types() -> frozenset[str]:
    """The tax ID types Stripe knows, as stripe-python lists them for a Checkout customer's tax IDs."""
    return _literals(stripe.checkout.Session.CustomerDetails.TaxId.__annotations__["type"])


def tax_id_country(kind: str, value: str) -> str | None:
    """The country a tax ID belongs to: the prefix of an EU VAT number (``EL`` is Greece), else its type's."""
    if kind == "eu_oss_vat":
        return None
    if kind == "eu_vat":
        prefix = value[:2].upper()
        return "GR" if prefix == "EL" else prefix
    return kind.split("_")[0].upper()


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _allocate(total: int, parts: list[int]) -> list[int]:
    """``total`` shared across ``parts`` in proportion, rounded half up, the last part taking the remainder."""
    whole = sum(parts)
    if not whole or not total:
        return [0] * len(parts)
    shares = [_round(Decimal(total) * part / whole) for part in parts[:-1]]
    return [*shares, total - sum(shares)]


class TaxMixin:
    """Stripe Tax for :class:`FakeStripe` (which supplies the stores, ids, errors and the request's account)."""

    # Provided by FakeStripe.
    accounts: dict[str, JSON]
    customers: dict[str, JSON]
    _lock: Any
    _acting_account: str | None

    def _tax_routes(self) -> list:
        import re

        return [
            ("GET", re.compile(r"/v1/tax/settings"), self._get_tax_settings),
            ("POST", re.compile(r"/v1/tax/settings"), self._update_tax_settings),
            ("POST", re.compile(r"/v1/tax/registrations"), self._create_registration),
            ("GET", re.compile(r"/v1/tax/registrations"), self._list_registrations),
            ("GET", re.compile(r"/v1/tax/registrations/([^/]+)"), self._get_registration),
            ("POST", re.compile(r"/v1/tax/registrations/([^/]+)"), self._update_registration),
            ("GET", re.compile(r"/v1/customers/([^/]+)/tax_ids"), self._list_tax_ids),
            ("GET", re.compile(r"/v1/customers/([^/]+)/tax_ids/([^/]+)"), self._get_tax_id),
        ]

    def _reset_tax(self) -> None:
        #: Tax settings by account id (None: the platform), made when first needed.
        self.tax_settings_by_account: dict[str | None, JSON] = {}
        self.tax_registrations: dict[str, JSON] = {}
        #: Customers' tax IDs (``tax_id`` objects) by id.
        self.tax_ids: dict[str, JSON] = {}
        self._registration_owner: dict[str, str | None] = {}
        self._tax_rates: dict[tuple[str, str | None], Decimal] = {}
        self._tax_rate_ids: dict[tuple[str, str | None, str], str] = {}

    def _tax_stores(self) -> tuple[dict[str, JSON], ...]:
        return (self.tax_registrations, self.tax_ids)

    # ------------------------------------------------------------------ test controls

    def set_tax_rate(self, country: str, percent: str | Decimal, *, state: str | None = None) -> None:
        """The tax rate (a percentage) at a buyer's location; ``state`` narrows it to one US state (or province).

        A rate for a country without ``state`` applies in each of its states that has none of its own.
        """
        with self._lock:
            self._tax_rates[(country.upper(), state.upper() if state else None)] = Decimal(str(percent))

    def register_for_tax(
        self,
        country: str,
        *,
        state: str | None = None,
        type: str | None = None,
        account_id: str | None = None,
        active_from: int | None = None,
        expires_at: int | None = None,
    ) -> JSON:
        """A tax registration the account (default: the platform) had before the test, checked as the API checks it.

        ``type`` defaults to ``state_sales_tax`` in the US, ``standard`` elsewhere (``simplified`` where that is
        the only one). Returns the registration.
        """
        api = _api()
        cc = country.upper()
        options: JSON = {"type": type or self._default_registration_type(cc.lower())}
        if state is not None:
            options["state"] = state
        params: JSON = {
            "country": cc,
            "country_options": {cc.lower(): options},
            "active_from": "now" if active_from is None else str(active_from),
        }
        if expires_at is not None:
            params["expires_at"] = str(expires_at)
        with self._lock:
            if account_id is not None and account_id not in self.accounts:
                raise KeyError(f"No such account: {account_id}")
            try:
                return copy.deepcopy(self._new_registration(params, account_id))
            except api._ApiError as e:
                raise ValueError(str(e)) from None

    def clear_tax_settings(self, account_id: str | None = None) -> JSON:
        """The account's tax settings as a new account's: ``pending``, no head office, no defaults.

        (Stripe never goes back there through its API; a test uses this to make the platform's settings
        incomplete.) Returns the settings.
        """
        with self._lock:
            self.tax_settings_by_account[account_id] = self._pending_settings()
            return copy.deepcopy(self.tax_settings_by_account[account_id])

    def tax_settings(self, account_id: str | None = None) -> JSON:
        """An account's (default: the platform's) tax settings."""
        with self._lock:
            return copy.deepcopy(self._settings(account_id))

    # ------------------------------------------------------------------ settings

    @staticmethod
    def _pending_settings() -> JSON:
        return {
            "object": "tax.settings",
            "defaults": {"provider": "stripe", "tax_behavior": None, "tax_code": None},
            "head_office": None,
            "livemode": False,
            "status": "pending",
            "status_details": {"pending": {"missing_fields": ["head_office"]}},
        }

    def _settings(self, account_id: str | None) -> JSON:
        settings = self.tax_settings_by_account.get(account_id)
        if settings is None:
            settings = self._pending_settings()
            if account_id is None:
                address = {"city": None, "country": "US", "line1": None, "line2": None, "postal_code": None}
                settings.update(head_office={"address": {**address, "state": "CA"}})
                settings.update(status="active", status_details={"active": {}})
            self.tax_settings_by_account[account_id] = settings
        return settings

    def _scoped_account(self) -> str | None:
        """The account the request acts for (its ``Stripe-Account`` header), which must be one the fake knows."""
        account_id = self._acting_account
        if account_id is not None and account_id not in self.accounts:
            raise _api()._ApiError(
                403,
                f"The provided key 'sk_test_*****' does not have access to account '{account_id}' "
                "(or that account does not exist). Application access may have been revoked.",
                code="account_invalid",
            )
        return account_id

    def _get_tax_settings(self, params: JSON) -> JSON:
        return self._settings(self._scoped_account())

    def _update_tax_settings(self, params: JSON) -> JSON:
        api = _api()
        settings = self._settings(self._scoped_account())
        defaults = api._dict(params.get("defaults"), "defaults")
        head_office = api._dict(params.get("head_office"), "head_office")
        behavior = defaults.get("tax_behavior")
        if behavior is not None:
            if behavior == "" and settings["defaults"]["tax_behavior"] is not None:
                raise api._ApiError(
                    400, "The default tax behavior cannot be unset once set.", param="defaults[tax_behavior]"
                )
            api._one_of(behavior, "defaults[tax_behavior]", ("inclusive", "exclusive", "inferred_by_currency"))
        address = self._head_office(head_office) if head_office else None
        if behavior:
            settings["defaults"]["tax_behavior"] = behavior
        if defaults.get("tax_code"):
            settings["defaults"]["tax_code"] = self._tax_code(defaults["tax_code"], "defaults[tax_code]")
        if address is not None:
            settings.update(head_office={"address": address}, status="active", status_details={"active": {}})
        return settings

    def _head_office(self, head_office: JSON) -> JSON:
        api = _api()
        raw = api._dict(head_office.get("address"), "head_office[address]")
        if not raw:
            raise api._missing("head_office[address]")
        country = self._country(raw.get("country"), "head_office[address][country]")
        if country == "US" and not raw.get("state"):
            raise api._ApiError(
                400, "A head office in the United States needs its state.", param="head_office[address][state]"
            )
        fields = ("city", "line1", "line2", "postal_code", "state")
        return {"country": country, **{name: raw.get(name) or None for name in fields}}

    @staticmethod
    def _country(value: Any, param: str) -> str:
        api = _api()
        if not value:
            raise api._missing(param)
        if value not in ISO_COUNTRIES:
            raise api._ApiError(
                400,
                f"Country '{value}' is unknown. Try using a 2-character alphanumeric country code instead, "
                "such as 'US', 'EG', or 'GB'.",
                code="country_code_invalid",
                param=param,
            )
        return str(value)

    @staticmethod
    def _tax_code(value: Any, param: str) -> str:
        code = str(value)
        if not (code.startswith("txcd_") and code[5:].isdigit() and len(code) == 13):
            raise _api()._no_such("tax_code", code, param=param, status=400)
        return code

    # ------------------------------------------------------------------ registrations

    @staticmethod
    def _default_registration_type(cc: str) -> str:
        hint = _registration_options().get(cc)
        if hint is None:
            return "standard"
        types = _literals(typing.get_type_hints(hint)["type"])
        if cc == "us":
            return "state_sales_tax"
        return "standard" if "standard" in types or not types else sorted(types)[0]

    @staticmethod
    def _registration_status(registration: JSON) -> str:
        now = _api()._now()
        if registration["active_from"] > now:
            return "scheduled"
        if registration["expires_at"] is not None and registration["expires_at"] <= now:
            return "expired"
        return "active"

    def _refreshed(self, registration: JSON) -> JSON:
        """A registration with its status as of now (time moves between requests)."""
        registration["status"] = self._registration_status(registration)
        return registration

    @staticmethod
    def _timestamp(value: Any, param: str, *, blank: bool = False) -> int | None:
        api = _api()
        if value == "now":
            return api._now()
        if blank and value == "":
            return None
        return api._required_int(value, param)

    def _registration_country_options(self, cc: str, raw: Any) -> JSON:
        """``country_options[<cc>]``, checked against the types stripe-python lists for that country."""
        api = _api()
        options = api._dict(raw, "country_options")
        hint = _registration_options().get(cc)
        if hint is None:
            raise api._ApiError(400, f"Stripe Tax doesn't support registrations in {cc.upper()}.", param="country")
        others = sorted(set(options) - {cc})
        if others:
            raise api._ApiError(
                400, f"country_options[{others[0]}] doesn't match the country ({cc.upper()}).", param="country_options"
            )
        given = api._dict(options.get(cc), f"country_options[{cc}]")
        hints = typing.get_type_hints(hint)
        for name in sorted(hint.__required_keys__):
            if not given.get(name):
                raise api._missing(f"country_options[{cc}][{name}]")
        kind = api._one_of(given["type"], f"country_options[{cc}][type]", sorted(_literals(hints["type"])))
        made: JSON = {"type": kind}
        if given.get("state"):
            made["state"] = str(given["state"]).upper()
        if kind == "province_standard":
            sub = api._dict(given.get("province_standard"), f"country_options[{cc}][province_standard]")
            if not sub.get("province"):
                raise api._missing(f"country_options[{cc}][province_standard][province]")
            made["province_standard"] = {"province": str(sub["province"]).upper()}
        for name in sorted(set(given) - {"type", "state", "province_standard"}):
            if name not in hints:
                raise api._ApiError(
                    400, f"Received unknown parameter: country_options[{cc}][{name}]", param=f"country_options[{cc}]"
                )
            made[name] = copy.deepcopy(given[name])
        return made

    def _create_registration(self, params: JSON) -> JSON:
        return self._new_registration(params, self._scoped_account())

    def _new_registration(self, params: JSON, account_id: str | None) -> JSON:
        api = _api()
        country = self._country(params.get("country"), "country")
        if not params.get("country_options"):
            raise api._missing("country_options")
        if params.get("active_from") in (None, ""):
            raise api._missing("active_from")
        cc = country.lower()
        options = self._registration_country_options(cc, params["country_options"])
        active_from = self._timestamp(params["active_from"], "active_from")
        expires_at = (
            None if params.get("expires_at") in (None, "") else self._timestamp(params["expires_at"], "expires_at")
        )
        assert active_from is not None
        if expires_at is not None and expires_at <= active_from:
            raise api._ApiError(400, "expires_at must be after active_from.", param="expires_at")
        self._refuse_overlap(account_id, country, options.get("state"), active_from, expires_at)
        registration: JSON = {
            "id": api._new_id("taxreg_", 8),
            "object": "tax.registration",
            "active_from": active_from,
            "country": country,
            "country_options": {cc: options},
            "created": api._now(),
            "expires_at": expires_at,
            "livemode": False,
            "status": "active",
        }
        self.tax_registrations[registration["id"]] = self._refreshed(registration)
        self._registration_owner[registration["id"]] = account_id
        return registration

    def _refuse_overlap(
        self, account_id: str | None, country: str, state: str | None, start: int, end: int | None
    ) -> None:
        """Stripe keeps one registration per country (per state in the US) at a time: periods may not overlap."""
        for other in self._registrations_of(account_id):
            options = other["country_options"][country.lower()] if other["country"] == country else None
            if options is None or options.get("state") != state:
                continue
            if (end is None or other["active_from"] < end) and (
                other["expires_at"] is None or start < other["expires_at"]
            ):
                where = f"{country} ({state})" if state else country
                raise _api()._ApiError(
                    400,
                    f"A registration in {where} already exists for this period ({other['id']}). "
                    "Expire it before adding another.",
                    code="tax_registration_already_exists",
                    param="country",
                )

    def _registrations_of(self, account_id: str | None) -> list[JSON]:
        return [
            self._refreshed(registration)
            for registration_id, registration in self.tax_registrations.items()
            if self._registration_owner[registration_id] == account_id
        ]

    def _list_registrations(self, params: JSON) -> JSON:
        api = _api()
        status = api._one_of(params.get("status") or "all", "status", _REGISTRATION_STATUSES)
        rows = [r for r in self._registrations_of(self._scoped_account()) if status in ("all", r["status"])]
        rows.sort(key=lambda r: r["created"], reverse=True)
        return {"object": "list", "data": copy.deepcopy(rows), "has_more": False, "url": "/v1/tax/registrations"}

    def _get_registration(self, params: JSON, registration_id: str) -> JSON:
        account_id = self._scoped_account()
        registration = self.tax_registrations.get(registration_id)
        if registration is None or self._registration_owner[registration_id] != account_id:
            raise _api()._no_such("tax.registration", registration_id)
        return self._refreshed(registration)

    def _update_registration(self, params: JSON, registration_id: str) -> JSON:
        api = _api()
        registration = self._get_registration(params, registration_id)
        active_from, expires_at = registration["active_from"], registration["expires_at"]
        if params.get("active_from") not in (None, ""):
            if registration["status"] != "scheduled":
                raise api._ApiError(
                    400, "Only a scheduled registration can change when it becomes active.", param="active_from"
                )
            active_from = self._timestamp(params["active_from"], "active_from")
        if "expires_at" in params:
            expires_at = self._timestamp(params["expires_at"], "expires_at", blank=True)
        assert active_from is not None
        if expires_at is not None and expires_at < active_from:
            raise api._ApiError(400, "expires_at must be after active_from.", param="expires_at")
        registration.update(active_from=active_from, expires_at=expires_at)
        return self._refreshed(registration)

    def _covers(self, account_id: str | None, country: str, state: str | None) -> bool:
        """Whether the account has an active registration for a buyer in ``country`` (and ``state`` in the US)."""
        for registration in self._registrations_of(account_id):
            if registration["status"] != "active":
                continue
            options = next(iter(registration["country_options"].values()))
            if registration["country"] == country and (country != "US" or options.get("state") == state):
                return True
            if options["type"] in _OSS_TYPES and country in EU_COUNTRIES:
                return True
        return False

    # ------------------------------------------------------------------ customers' tax IDs

    def _customer_tax_ids(self, customer_id: str, given: list[JSON]) -> None:
        api = _api()
        for entry in given:
            tax_id: JSON = {
                "id": api._new_id("txi_"),
                "object": "tax_id",
                "country": tax_id_country(entry["type"], entry["value"]),
                "created": api._now(),
                "customer": customer_id,
                "livemode": False,
                "owner": {"type": "customer", "customer": customer_id},
                "type": entry["type"],
                "value": entry["value"],
                "verification": {"status": "pending", "verified_address": None, "verified_name": None},
            }
            self.tax_ids[tax_id["id"]] = tax_id

    def _list_tax_ids(self, params: JSON, customer_id: str) -> JSON:
        if customer_id not in self.customers:
            raise _api()._no_such("customer", customer_id)
        rows = [t for t in self.tax_ids.values() if t["customer"] == customer_id]
        url = f"/v1/customers/{customer_id}/tax_ids"
        return {"object": "list", "data": copy.deepcopy(rows), "has_more": False, "url": url}

    def _get_tax_id(self, params: JSON, customer_id: str, tax_id: str) -> JSON:
        found = self.tax_ids.get(tax_id)
        if found is None or found["customer"] != customer_id:
            raise _api()._no_such("tax_id", tax_id)
        return found

    # ------------------------------------------------------------------ session parameters

    def _account_ref(self, raw: Any, param: str) -> JSON:
        """A liability or issuer: ``{"type": "self"}``, or ``{"type": "account", "account": <a known account>}``."""
        api = _api()
        given = api._dict(raw, param)
        kind = api._one_of(given.get("type") or "", f"{param}[type]", ("account", "self"))
        if kind == "self":
            return {"type": "self"}
        account = given.get("account")
        if not account:
            raise api._missing(f"{param}[account]")
        if account not in self.accounts:
            raise api._no_such("account", str(account), param=f"{param}[account]", status=400)
        return {"type": "account", "account": str(account)}

    def _automatic_tax_param(self, raw: Any, param: str) -> JSON | None:
        """``automatic_tax`` as given: None when absent, else ``enabled`` and (when enabled) the liability."""
        api = _api()
        given = api._dict(raw, param)
        if not given:
            return None
        enabled = api._bool(given.get("enabled"), f"{param}[enabled]")
        if enabled is None:
            raise api._missing(f"{param}[enabled]")
        liability = given.get("liability")
        if liability not in (None, "") and not enabled:
            raise api._ApiError(
                400, f"{param}[liability] can only be set when automatic tax is enabled.", param=f"{param}[liability]"
            )
        if not enabled:
            return {"enabled": False, "liability": None}
        ref = self._account_ref(liability, f"{param}[liability]") if liability else {"type": "self"}
        return {"enabled": True, "liability": ref}

    def _known_account(self, value: Any, param: str) -> str | None:
        if value in (None, ""):
            return None
        if value not in self.accounts:
            raise _api()._no_such("account", str(value), param=param, status=400)
        return str(value)

    def _require_active_settings(self, liability: JSON, param: str) -> JSON:
        account_id = liability.get("account")
        settings = self._settings(account_id)
        if settings["status"] != "active":
            whose = f"the connected account {account_id}" if account_id else "your account"
            raise _api()._ApiError(
                400,
                f"Automatic tax calculation requires a valid head office address in the tax settings of {whose}. "
                "Add one in the Dashboard (https://dashboard.stripe.com/settings/tax) or through the Tax Settings "
                "API (head office missing).",
                param=param,
            )
        return settings

    @staticmethod
    def _resolved_behavior(item: JSON, settings: JSON) -> str | None:
        """A line item's tax behaviour: its price's, else the liable account's default (None: neither says)."""
        own = item["price"]["tax_behavior"]
        if own in ("inclusive", "exclusive"):
            return own
        default = settings["defaults"]["tax_behavior"]
        if default == "inferred_by_currency":
            return "exclusive" if item["price"]["currency"] in _EXCLUSIVE_CURRENCIES else "inclusive"
        return default

    def _tax_id_collection(self, raw: Any) -> JSON:
        api = _api()
        given = api._dict(raw, "tax_id_collection")
        if not given:
            return {"enabled": False, "required": "never"}
        enabled = api._bool(given.get("enabled"), "tax_id_collection[enabled]")
        if enabled is None:
            raise api._missing("tax_id_collection[enabled]")
        required = api._one_of(
            given.get("required") or "never", "tax_id_collection[required]", ("never", "if_supported")
        )
        if required == "if_supported" and not enabled:
            raise api._ApiError(
                400,
                "tax_id_collection[required] can only be `if_supported` when tax_id_collection[enabled] is true.",
                param="tax_id_collection[required]",
            )
        return {"enabled": enabled, "required": required}

    def _session_tax(self, params: JSON, items: list[JSON]) -> tuple[JSON | None, JSON, list[str]]:
        """A new session's ``automatic_tax``, ``tax_id_collection`` and its items' tax behaviours, refused as
        Stripe refuses them (the behaviours are fixed now, by the liable account's defaults where a price is silent).
        """
        api = _api()
        automatic = self._automatic_tax_param(params.get("automatic_tax"), "automatic_tax")
        collection = self._tax_id_collection(params.get("tax_id_collection"))
        if automatic is None or not automatic["enabled"]:
            return None, collection, []
        settings = self._require_active_settings(automatic["liability"], "automatic_tax[enabled]")
        behaviors = []
        for i, item in enumerate(items):
            behavior = self._resolved_behavior(item, settings)
            if behavior is None:
                raise api._ApiError(
                    400,
                    "Automatic tax needs a tax behavior for every price. Set `tax_behavior` to `inclusive` or "
                    "`exclusive` on the price, or set a default tax behavior in your tax settings.",
                    param=f"line_items[{i}][price_data][tax_behavior]",
                )
            behaviors.append(behavior)
        if params.get("mode") == "subscription":
            data = api._dict(params.get("subscription_data"), "subscription_data")
            issuer = api._dict(data.get("invoice_settings"), "subscription_data[invoice_settings]").get("issuer")
            self._match_issuer(automatic["liability"], issuer, "automatic_tax[liability]")
        return automatic, collection, behaviors

    def _match_issuer(self, liability: JSON, issuer: Any, param: str) -> None:
        """A subscription's invoices are issued by the account liable for their tax: both must name the same one."""
        if liability["type"] != "account":
            return
        named = issuer.get("account") if isinstance(issuer, dict) and issuer.get("type") == "account" else None
        if named != liability["account"]:
            raise _api()._ApiError(
                400,
                "When automatic_tax[liability] names a connected account, the invoices' issuer "
                "(invoice_settings[issuer]) must be that same account.",
                param=param,
            )

    @staticmethod
    def _session_automatic_tax(automatic: JSON | None) -> JSON:
        if automatic is None:
            return {"enabled": False, "liability": None, "provider": None, "status": None}
        return {
            "enabled": True,
            "liability": copy.deepcopy(automatic["liability"]),
            "provider": "stripe",
            "status": "requires_location_inputs",
        }

    # ------------------------------------------------------------------ computing tax

    def _rate_at(self, country: str, state: str | None) -> tuple[Decimal | None, str]:
        """The rate a test set for the location (None: none), and the id of that tax rate."""
        rate = self._tax_rates.get((country, state))
        if rate is None:
            rate = self._tax_rates.get((country, None))
        key = (country, state, str(rate))
        rate_id = self._tax_rate_ids.setdefault(key, _api()._new_id("txr_"))
        return rate, rate_id

    def _taxability(self, liability: JSON, address: JSON, tax_ids: list[JSON]) -> tuple[Decimal, str]:
        """The rate that applies to the buyer, and Stripe's reason for it."""
        account_id = liability.get("account")
        country, state = address.get("country") or "", address.get("state")
        if not self._covers(account_id, country, state):
            return Decimal(0), "not_collecting"
        head_office = (self._settings(account_id)["head_office"] or {}).get("address") or {}
        if any(tax_id_country(t["type"], t["value"]) != head_office.get("country") for t in tax_ids):
            return Decimal(0), "reverse_charge"
        rate, _ = self._rate_at(country, state)
        if rate is None:
            return Decimal(0), "not_subject_to_tax"
        return rate, "zero_rated" if rate == 0 else "standard_rated"

    def _compute_tax(
        self, liability: JSON, lines: list[tuple[int, str]], discount: int, address: JSON, tax_ids: list[JSON]
    ) -> list[JSON]:
        """Stripe's ``total_taxes`` for amounts ``(amount, tax behaviour)`` after ``discount``: one per behaviour."""
        rate, reason = self._taxability(liability, address, tax_ids)
        _, rate_id = self._rate_at(address.get("country") or "", address.get("state"))
        behaviors = sorted({behavior for _, behavior in lines})
        amounts = [sum(amount for amount, b in lines if b == behavior) for behavior in behaviors]
        taxes = []
        for behavior, gross, off in zip(behaviors, amounts, _allocate(discount, amounts), strict=True):
            taxable = gross - off
            if behavior == "exclusive":
                tax = _round(Decimal(taxable) * rate / 100)
                base = taxable
            else:
                tax = _round(Decimal(taxable) - Decimal(taxable) / (1 + rate / 100))
                base = taxable - tax
            taxes.append(
                {
                    "amount": tax,
                    "tax_behavior": behavior,
                    "tax_rate_details": {"tax_rate": rate_id},
                    "taxability_reason": reason,
                    "taxable_amount": base,
                    "type": "tax_rate_details",
                }
            )
        return taxes

    @staticmethod
    def _exclusive(taxes: list[JSON]) -> int:
        return sum(t["amount"] for t in taxes if t["tax_behavior"] == "exclusive")

    @staticmethod
    def _checked_tax_ids(session: JSON, tax_ids: list[tuple[str, str]] | None) -> list[JSON]:
        """The buyer's tax IDs as Stripe's page takes them: only where collected, of types Stripe knows."""
        collection = session["tax_id_collection"]
        given = [{"type": kind, "value": value} for kind, value in tax_ids or []]
        if given and not collection["enabled"]:
            raise ValueError(f"Checkout Session {session['id']} doesn't collect tax IDs (tax_id_collection)")
        if not given and collection["required"] == "if_supported":
            raise ValueError(f"Checkout Session {session['id']} requires a tax ID (tax_id_collection[required])")
        unknown = [t["type"] for t in given if t["type"] not in tax_id_types()]
        if unknown:
            raise ValueError(f"Stripe knows no tax ID type {unknown[0]!r}")
        return given

    def _tax_session(self, session: JSON, address: JSON, tax_ids: list[JSON]) -> None:
        """The buyer gave an address on the payment page: the session's tax, and its total with exclusive tax."""
        automatic = session["automatic_tax"]
        if not automatic["enabled"]:
            return
        extras = self._session_extras[session["id"]]  # type: ignore[attr-defined]
        lines = [
            (item["amount_total"], behavior)
            for item, behavior in zip(extras["line_items"], extras["tax_behaviors"], strict=True)
        ]
        taxes = self._compute_tax(
            automatic["liability"], lines, session["total_details"]["amount_discount"], address, tax_ids
        )
        session["total_details"]["amount_tax"] = sum(t["amount"] for t in taxes)
        session["amount_total"] += self._exclusive(taxes)
        automatic["status"] = "complete"
        extras["total_taxes"] = taxes

    @staticmethod
    def _address(country: str, postal_code: str | None, state: str | None) -> JSON:
        cc = country.upper()
        if cc not in ISO_COUNTRIES:
            raise ValueError(f"Country {country!r} is not an ISO 3166-1 alpha-2 code")
        return {
            "city": None,
            "country": cc,
            "line1": None,
            "line2": None,
            "postal_code": postal_code,
            "state": state.upper() if state else None,
        }
