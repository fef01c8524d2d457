"""The fake Stripe's Connect application fees: the ``application_fee`` a charge's ``application_fee_amount`` collects
for the platform, and the ``fee_refund`` objects that give it back to the connected account.

Mixed into :class:`tests.fakes.stripe_api.FakeStripe`. Every charge the fake makes (a one-off Checkout payment or a
subscription invoice's payment) with a positive ``application_fee_amount`` carries ``application_fee``: the id of an
ApplicationFee in :attr:`FeesMixin.application_fees` (``fee_…``); without one (none asked for, or zero) it is null.
As for a destination charge at Stripe, the fee is taken from the charge's ``transfer_data[destination]``
(``account``) out of the payment that transfer made on the connected account (``charge`` and ``fee_source.charge``,
a ``py_…`` id the fake does not keep as an object), and ``originating_transaction`` is the platform's charge
(``ch_…``). The fee and each fee refund move the platform's balance (balance transactions of type
``application_fee`` and ``application_fee_refund``, settled as the charge was).

Endpoints: ``GET /v1/application_fees[?charge=…]``, ``GET /v1/application_fees/<id>``,
``GET``/``POST /v1/application_fees/<id>/refunds`` (``amount``, default all that is left; ``metadata``) and
``GET``/``POST /v1/application_fees/<id>/refunds/<fr id>`` (``metadata`` only, as at Stripe). A refund of the
charge with ``refund_application_fee=true`` also gives back the fee in proportion: all that is left of it when the
refund takes the rest of the charge, else ``fee.amount × refund.amount / charge.amount`` rounded half up, capped at
what is left; either is recorded as a fee refund (none when it comes to zero).

Fee refunds are kept in :attr:`FeesMixin.fee_refunds` too. Control: :meth:`FeesMixin.refund_fee_outside_app` (the
platform refunds a fee in the dashboard).
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .stripe_api import JSON

#: The platform's Connect application, as the fees it earns name it.
PLATFORM_APPLICATION = "ca_FakePlatformApplication0000000"


def _api():
    from . import stripe_api

    return stripe_api


class FeesMixin:
    """Application fees and their refunds for :class:`FakeStripe` (which supplies the charges, ids and errors)."""

    # Provided by FakeStripe.
    charges: dict[str, JSON]
    balance_transactions: dict[str, JSON]
    _lock: Any

    def _fee_routes(self) -> list:
        import re

        return [
            ("GET", re.compile(r"/v1/application_fees"), self._list_application_fees),
            ("GET", re.compile(r"/v1/application_fees/([^/]+)"), self._get_application_fee),
            ("GET", re.compile(r"/v1/application_fees/([^/]+)/refunds"), self._list_fee_refunds),
            ("POST", re.compile(r"/v1/application_fees/([^/]+)/refunds"), self._create_fee_refund),
            ("GET", re.compile(r"/v1/application_fees/([^/]+)/refunds/([^/]+)"), self._get_fee_refund),
            ("POST", re.compile(r"/v1/application_fees/([^/]+)/refunds/([^/]+)"), self._update_fee_refund),
        ]

    def _reset_fees(self) -> None:
        #: ApplicationFee objects by id (``fee_…``); each one's ``refunds`` lists its fee refunds, newest first.
        self.application_fees: dict[str, JSON] = {}
        #: Fee refunds (``fee_refund`` objects) by id (``fr_…``).
        self.fee_refunds: dict[str, JSON] = {}

    def _fee_stores(self) -> tuple[dict[str, JSON], ...]:
        return (self.application_fees, self.fee_refunds)

    # ------------------------------------------------------------------ test controls

    def refund_fee_outside_app(self, fee_id: str, amount: int | None = None, *, metadata: JSON | None = None) -> JSON:
        """The platform refunds an application fee in the dashboard (default: all that is left). Returns the fee
        refund.
        """
        with self._lock:
            fee = self.application_fees.get(fee_id)
            if fee is None:
                raise KeyError(f"No such application_fee: {fee_id}")
            try:
                return copy.deepcopy(self._refund_fee(fee, amount, metadata or {}))
            except _api()._ApiError as e:
                raise ValueError(str(e)) from None

    # ------------------------------------------------------------------ money movement

    def _collect_fee(self, charge: JSON) -> str | None:
        """The application fee a new charge collects (its id), or None without a positive ``application_fee_amount``."""
        amount = charge["application_fee_amount"]
        if not amount:
            return None
        api = _api()
        fee_id = api._new_id("fee_")
        settled = self.balance_transactions[charge["balance_transaction"]]
        txn = self._fee_balance_transaction(amount, charge, fee_id, "application_fee", "platform_earning")
        transfer = charge.get("transfer_data") or {}
        # The connected account's payment made by the destination charge's transfer: the charge the fee is taken from.
        payment = api._new_id("py_")
        self.application_fees[fee_id] = {
            "id": fee_id,
            "object": "application_fee",
            "account": transfer.get("destination"),
            "amount": amount,
            "amount_refunded": 0,
            "application": PLATFORM_APPLICATION,
            "balance_transaction": txn["id"],
            "charge": payment,
            "created": settled["created"],
            "currency": charge["currency"],
            "fee_source": {"charge": payment, "type": "charge"},
            "livemode": False,
            "originating_transaction": charge["id"],
            "refunded": False,
            "refunds": self._list([], f"/v1/application_fees/{fee_id}/refunds"),  # type: ignore[attr-defined]
        }
        return fee_id

    def _return_fee(self, charge: JSON, refunded: int, left: int) -> None:
        """A refund of ``refunded`` out of the ``left`` still on the charge, with ``refund_application_fee=true``."""
        fee = self.application_fees.get(charge.get("application_fee") or "")
        if fee is None:
            return
        fee_left = fee["amount"] - fee["amount_refunded"]
        if refunded == left:
            share = fee_left
        else:
            exact = Decimal(fee["amount"]) * refunded / charge["amount"]
            share = min(int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)), fee_left)
        if share > 0:
            self._refund_fee(fee, share, {})

    def _refund_fee(self, fee: JSON, amount: int | None, metadata: JSON) -> JSON:
        api = _api()
        left = fee["amount"] - fee["amount_refunded"]
        if amount is None:
            if left == 0:
                raise api._ApiError(400, f"Application fee {fee['id']} has already been refunded.")
            amount = left
        if amount > left:
            currency = fee["currency"]
            raise api._ApiError(
                400,
                f"Refund amount ({api._money(amount, currency)}) is greater than unrefunded amount on fee "
                f"({api._money(left, currency)})",
                param="amount",
            )
        refund_id = api._new_id("fr_")
        charge = self.charges[fee["originating_transaction"]]
        txn = self._fee_balance_transaction(
            -amount, charge, refund_id, "application_fee_refund", "platform_earning_refund"
        )
        refund: JSON = {
            "id": refund_id,
            "object": "fee_refund",
            "amount": amount,
            "balance_transaction": txn["id"],
            "created": txn["created"],
            "currency": fee["currency"],
            "fee": fee["id"],
            "metadata": dict(metadata),
        }
        self.fee_refunds[refund_id] = refund
        fee["amount_refunded"] += amount
        fee["refunded"] = fee["amount_refunded"] == fee["amount"]
        self._list_fee_refunds_into(fee)
        return refund

    def _fee_balance_transaction(self, amount: int, charge: JSON, source: str, kind: str, category: str) -> JSON:
        """The platform's balance moving by ``amount`` of the charge's currency, settled as the charge was."""
        settled = self.balance_transactions[charge["balance_transaction"]]
        rate = None if settled["exchange_rate"] is None else str(settled["exchange_rate"])
        txn = self._new_balance_transaction(  # type: ignore[attr-defined]
            amount, charge["currency"], source, kind, fee=0, settlement=(settled["currency"], rate)
        )
        txn["reporting_category"] = category
        return txn

    def _list_fee_refunds_into(self, fee: JSON) -> None:
        """The fee's ``refunds`` list, newest first (kept in step with :attr:`fee_refunds`)."""
        newest_first = [r for r in reversed(self.fee_refunds.values()) if r["fee"] == fee["id"]]
        fee["refunds"] = self._list(newest_first, f"/v1/application_fees/{fee['id']}/refunds")  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ endpoints

    def _application_fee(self, fee_id: str) -> JSON:
        fee = self.application_fees.get(fee_id)
        if fee is None:
            raise _api()._no_such("application_fee", fee_id)
        return fee

    def _get_application_fee(self, params: JSON, fee_id: str) -> JSON:
        return self._application_fee(fee_id)

    def _list_application_fees(self, params: JSON) -> JSON:
        """The platform's fees newest first, of one charge when asked (no pagination: every one fits)."""
        charge_id = params.get("charge")
        fees = [f for f in reversed(self.application_fees.values()) if not charge_id or f["charge"] == charge_id]
        return self._list(fees, "/v1/application_fees")  # type: ignore[attr-defined]

    def _list_fee_refunds(self, params: JSON, fee_id: str) -> JSON:
        return copy.deepcopy(self._application_fee(fee_id)["refunds"])

    def _create_fee_refund(self, params: JSON, fee_id: str) -> JSON:
        api = _api()
        fee = self._application_fee(fee_id)
        amount = api._int(params.get("amount"), "amount", minimum=1)
        return self._refund_fee(fee, amount, api._dict(params.get("metadata"), "metadata"))

    def _fee_refund(self, fee_id: str, refund_id: str) -> JSON:
        self._application_fee(fee_id)
        refund = self.fee_refunds.get(refund_id)
        if refund is None or refund["fee"] != fee_id:
            raise _api()._no_such("fee_refund", refund_id)
        return refund

    def _get_fee_refund(self, params: JSON, fee_id: str, refund_id: str) -> JSON:
        return self._fee_refund(fee_id, refund_id)

    def _update_fee_refund(self, params: JSON, fee_id: str, refund_id: str) -> JSON:
        """Only ``metadata`` changes, as at Stripe (an empty value removes a key)."""
        refund = self._fee_refund(fee_id, refund_id)
        for key, value in _api()._dict(params.get("metadata"), "metadata").items():
            if value == "":
                refund["metadata"].pop(key, None)
            else:
                refund["metadata"][key] = value
        self._list_fee_refunds_into(self.application_fees[fee_id])
        return refund
