"""The fake Stripe's Billing: Checkout in subscription mode, subscriptions, invoices and their payments,
subscription schedules and the customer portal, as API version 2026-10-28 shapes them.

Mixed into :class:`tests.fakes.stripe_api.FakeStripe`. Time moves only when a test says so:

- :meth:`complete_session` on a ``mode=subscription`` session starts the subscription and pays its
  first invoice (``billing_reason=subscription_create``);
- :meth:`bill_next` is the next period starting: a ``subscription_cycle`` invoice paid, or failed
  (``past_due``, with a ``next_payment_attempt``), or, once a schedule with ``end_behavior=cancel``
  has run its phase, the subscription canceled instead;
- :meth:`retry_invoice`, :meth:`give_up` (the retries ran out: ``unpaid``, as the account setting
  "mark the subscription as unpaid" does) and :meth:`pay_invoice` (the customer paid on the hosted
  invoice page) move a failed invoice on.

With Stripe Tax (:mod:`tests.fakes.stripe_tax`), a subscription started by a session with automatic tax keeps
its ``automatic_tax`` (and liability), ``on_behalf_of`` and ``invoice_settings.issuer``, the customer keeps the
buyer's address and tax IDs, and every invoice computes its tax from them (``total_taxes``, ``total`` with exclusive
tax, ``subtotal_excluding_tax``, ``total_excluding_tax``); the platform's ``application_fee_percent`` is of the
total, tax included. A schedule's phase governs these too, and a phase updated without ``automatic_tax`` turns it
off, as at Stripe.

Each invoice's payment is a charge of its own with its own ``application_fee`` object when the percentage comes to a
positive amount (:mod:`tests.fakes.stripe_fees`), taken from the subscription's ``transfer_data[destination]``.

Each control returns the objects an event would carry; tests send the events themselves, in any
order and any number of times.
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from .stripe_tax import TaxMixin

if TYPE_CHECKING:
    from .stripe_api import JSON

MONTH = 30 * 86400  # the fake's month: periods are its own arithmetic, never read back as dates by the app
RETRY_AFTER = 3 * 86400


def _api():
    from . import stripe_api

    return stripe_api


class BillingMixin(TaxMixin):
    """Subscriptions and invoices for :class:`FakeStripe` (which supplies the store, ids and errors); their tax
    comes from :class:`TaxMixin`.
    """

    # Provided by FakeStripe.
    sessions: dict[str, JSON]
    payment_intents: dict[str, JSON]
    charges: dict[str, JSON]
    accounts: dict[str, JSON]
    _session_extras: dict[str, JSON]
    tax_ids: dict[str, JSON]
    _lock: Any

    def _billing_routes(self) -> list:
        import re

        return [
            ("GET", re.compile(r"/v1/subscriptions/([^/]+)"), self._get_subscription),
            ("DELETE", re.compile(r"/v1/subscriptions/([^/]+)"), self._cancel_subscription),
            ("POST", re.compile(r"/v1/subscription_schedules"), self._create_schedule),
            ("GET", re.compile(r"/v1/subscription_schedules/([^/]+)"), self._get_schedule),
            ("POST", re.compile(r"/v1/subscription_schedules/([^/]+)"), self._update_schedule),
            ("GET", re.compile(r"/v1/invoices"), self._list_invoices),
            ("GET", re.compile(r"/v1/invoices/([^/]+)"), self._get_invoice),
            ("GET", re.compile(r"/v1/invoice_payments"), self._list_invoice_payments),
            ("POST", re.compile(r"/v1/billing_portal/sessions"), self._create_portal_session),
        ]

    def _reset_billing(self) -> None:
        self.customers: dict[str, JSON] = {}
        self.subscriptions: dict[str, JSON] = {}
        self.invoices: dict[str, JSON] = {}
        self.invoice_payments: dict[str, JSON] = {}
        self.subscription_schedules: dict[str, JSON] = {}
        self.portal_sessions: dict[str, JSON] = {}
        self._subscription_extras: dict[str, JSON] = {}

    def _billing_stores(self) -> tuple[dict[str, JSON], ...]:
        return (self.customers, self.subscriptions, self.invoices, self.invoice_payments, self.subscription_schedules)

    # ------------------------------------------------------------------ creating a subscription session

    def _subscription_data(self, params: JSON) -> JSON:
        """``subscription_data`` of a ``mode=subscription`` session, checked as Stripe checks it."""
        api = _api()
        if params.get("payment_intent_data"):
            raise api._ApiError(
                400, "You can not pass `payment_intent_data` in `subscription` mode.", param="payment_intent_data"
            )
        data = copy.deepcopy(api._dict(params.get("subscription_data"), "subscription_data"))
        percent = data.get("application_fee_percent")
        if percent is not None:
            try:
                value = Decimal(str(percent))
            except ArithmeticError:
                value = Decimal(-1)
            if not value.is_finite() or not 0 <= value <= 100:
                raise api._ApiError(
                    400,
                    "Invalid decimal: must be between 0 and 100",
                    param="subscription_data[application_fee_percent]",
                )
            data["application_fee_percent"] = float(value)
        transfer = api._dict(data.get("transfer_data"), "subscription_data[transfer_data]")
        if transfer:
            destination = transfer.get("destination")
            if destination not in self.accounts:
                param = "subscription_data[transfer_data][destination]"
                raise api._no_such("destination", str(destination), param=param, status=400)
        data["metadata"] = api._dict(data.get("metadata"), "subscription_data[metadata]")
        data["on_behalf_of"] = self._known_account(data.get("on_behalf_of"), "subscription_data[on_behalf_of]")
        settings = api._dict(data.get("invoice_settings"), "subscription_data[invoice_settings]")
        issuer = settings.get("issuer")
        param = "subscription_data[invoice_settings][issuer]"
        data["invoice_settings"] = {"issuer": self._account_ref(issuer, param) if issuer else {"type": "self"}}
        return data

    @staticmethod
    def _recurring_items(items: list[JSON], raw: list) -> None:
        """Each line item of a subscription session must recur: its price becomes a recurring one."""
        api = _api()
        for i, (item, given) in enumerate(zip(items, raw, strict=True)):
            recurring = given["price_data"].get("recurring")
            if not isinstance(recurring, dict) or recurring.get("interval") not in ("day", "week", "month", "year"):
                raise api._ApiError(
                    400,
                    "You must specify `recurring` for every line item in `subscription` mode.",
                    param=f"line_items[{i}][price_data][recurring]",
                )
            item["price"].update(type="recurring", recurring={"interval": recurring["interval"], "interval_count": 1})

    # ------------------------------------------------------------------ test controls

    def _start_subscription(self, session: JSON, fee: int | None) -> None:
        """The customer finished a subscription Checkout: a customer, the subscription and its first invoice, paid."""
        api = _api()
        extras = self._session_extras[session["id"]]
        data = extras["subscription_data"]
        now = api._now()
        customer_id = api._new_id("cus_", 7)
        details = session["customer_details"]
        self.customers[customer_id] = {
            "id": customer_id,
            "object": "customer",
            # Stripe keeps the address and tax IDs given in Checkout on the customer; its invoices' tax follows them.
            "address": copy.deepcopy(details["address"]),
            "email": session["customer_email"],
            "created": now,
            "livemode": False,
            "metadata": {},
            "tax_exempt": "none",
        }
        self._customer_tax_ids(customer_id, details["tax_ids"])
        automatic = session["automatic_tax"]
        item = extras["line_items"][0]
        sub_id = api._new_id("sub_")
        subscription: JSON = {
            "id": sub_id,
            "object": "subscription",
            "application_fee_percent": data.get("application_fee_percent"),
            "automatic_tax": {
                "disabled_reason": None,
                "enabled": automatic["enabled"],
                "liability": copy.deepcopy(automatic["liability"]),
            },
            "billing_cycle_anchor": now,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "created": now,
            "currency": session["currency"],
            "customer": customer_id,
            "description": data.get("description"),
            "ended_at": None,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": api._new_id("si_", 7),
                        "object": "subscription_item",
                        "created": now,
                        "current_period_start": now,
                        "current_period_end": now + MONTH,
                        "metadata": {},
                        "price": copy.deepcopy(item["price"]),
                        "quantity": item["quantity"],
                        "subscription": sub_id,
                    }
                ],
                "has_more": False,
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
            "invoice_settings": {"account_tax_ids": None, "issuer": copy.deepcopy(data["invoice_settings"]["issuer"])},
            "latest_invoice": None,
            "livemode": False,
            "metadata": dict(data.get("metadata") or {}),
            "on_behalf_of": data["on_behalf_of"],
            "schedule": None,
            "start_date": now,
            "status": "active",
            "transfer_data": copy.deepcopy(data.get("transfer_data")) or None,
        }
        self.subscriptions[sub_id] = subscription
        behaviors = extras["tax_behaviors"]
        self._subscription_extras[sub_id] = {
            "email": session["customer_email"],
            "amount": item["amount_total"],
            "tax_behavior": behaviors[0] if behaviors else None,
        }
        invoice = self._new_invoice(subscription, "subscription_create", now, now + MONTH)
        self._pay(invoice, fee)
        session.update(
            status="complete",
            payment_status="paid",
            url=None,
            subscription=sub_id,
            invoice=invoice["id"],
            customer=customer_id,
        )

    def bill_next(self, subscription_id: str, *, succeed: bool = True, fee: int | None = None) -> JSON:
        """The next period starts: returns its invoice, or the subscription when its schedule canceled it instead."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            if subscription["status"] == "canceled":
                raise ValueError(f"Subscription {subscription_id} is canceled")
            item = subscription["items"]["data"][0]
            start, end = item["current_period_end"], item["current_period_end"] + MONTH
            schedule = self.subscription_schedules.get(subscription["schedule"] or "")
            if (
                schedule is not None
                and schedule["end_behavior"] == "cancel"
                and start >= schedule["phases"][0]["end_date"]
            ):
                schedule.update(status="completed", completed_at=start)
                return self._end(subscription, start)
            if subscription["cancel_at_period_end"]:
                return self._end(subscription, start)  # canceled in the portal: it ends with the period
            item.update(current_period_start=start, current_period_end=end)
            invoice = self._new_invoice(subscription, "subscription_cycle", start, end)
            if succeed:
                self._pay(invoice, fee)
            else:
                self._fail(invoice)
            return copy.deepcopy(invoice)

    def retry_invoice(self, invoice_id: str, *, succeed: bool, fee: int | None = None) -> JSON:
        """Stripe's next automatic try at a failed invoice."""
        with self._lock:
            invoice = self.invoices[invoice_id]
            if invoice["status"] != "open":
                raise ValueError(f"Invoice {invoice_id} is {invoice['status']}, not open")
            if succeed:
                self._pay(invoice, fee)
            else:
                self._fail(invoice)
            return copy.deepcopy(invoice)

    def cancel_in_portal(self, subscription_id: str, *, cancel: bool = True) -> JSON:
        """The customer cancels in the customer portal (at the period's end, the portal's default), or resumes."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            item = subscription["items"]["data"][0]
            subscription.update(
                cancel_at_period_end=cancel,
                cancel_at=item["current_period_end"] if cancel else None,
                canceled_at=_api()._now() if cancel else None,
            )
            return copy.deepcopy(subscription)

    def give_up(self, subscription_id: str) -> JSON:
        """The retries ran out: the subscription is ``unpaid`` and its open invoice waits to be paid by hand."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription["status"] = "unpaid"
            invoice = self.invoices.get(subscription["latest_invoice"] or "")
            if invoice is not None and invoice["status"] == "open":
                invoice["next_payment_attempt"] = None
            return copy.deepcopy(subscription)

    def pay_invoice(self, invoice_id: str, *, fee: int | None = None) -> JSON:
        """The customer paid an open invoice on its hosted page, with a new card."""
        return self.retry_invoice(invoice_id, succeed=True, fee=fee)

    def subscription(self, subscription_id: str) -> JSON:
        with self._lock:
            return copy.deepcopy(self.subscriptions[subscription_id])

    # ------------------------------------------------------------------ invoices and their payments

    def _follow_schedule(self, subscription: JSON) -> None:
        """A schedule governs its subscription: what its phase says, and what it leaves out, is what each invoice gets.

        Stripe replaces phases whole, so a phase updated without ``automatic_tax`` turns automatic tax off, one
        without ``on_behalf_of`` or ``invoice_settings[issuer]`` goes back to the platform.
        """
        schedule = self.subscription_schedules.get(subscription["schedule"] or "")
        if schedule is None:
            return
        phase = schedule["phases"][0]
        subscription["application_fee_percent"] = phase["application_fee_percent"]
        subscription["transfer_data"] = copy.deepcopy(phase["transfer_data"])
        subscription["automatic_tax"] = {
            "disabled_reason": None,
            "enabled": phase["automatic_tax"]["enabled"],
            "liability": copy.deepcopy(phase["automatic_tax"]["liability"]),
        }
        subscription["on_behalf_of"] = phase["on_behalf_of"]
        issuer = (phase["invoice_settings"] or {}).get("issuer") or {"type": "self"}
        subscription["invoice_settings"]["issuer"] = copy.deepcopy(issuer)

    def _invoice_taxes(self, subscription: JSON, amount: int) -> list[JSON]:
        """The invoice's ``total_taxes``, from the customer's address and tax IDs (none without automatic tax)."""
        automatic = subscription["automatic_tax"]
        if not automatic["enabled"]:
            return []
        liability = automatic["liability"] or {"type": "self"}
        settings = self._settings(liability.get("account"))
        item = subscription["items"]["data"][0]
        behavior = (
            self._resolved_behavior(item, settings)
            or self._subscription_extras[subscription["id"]]["tax_behavior"]
            or "exclusive"
        )
        customer = self.customers[subscription["customer"]]
        tax_ids = [
            {"type": t["type"], "value": t["value"]} for t in self.tax_ids.values() if t["customer"] == customer["id"]
        ]
        return self._compute_tax(liability, [(amount, behavior)], 0, customer["address"] or {}, tax_ids)

    def _new_invoice(self, subscription: JSON, reason: str, start: int, end: int) -> JSON:
        api = _api()
        invoice_id = api._new_id("in_")
        self._follow_schedule(subscription)
        amount = self._subscription_extras[subscription["id"]]["amount"]
        taxes = self._invoice_taxes(subscription, amount)
        exclusive = self._exclusive(taxes)
        inclusive = sum(t["amount"] for t in taxes) - exclusive
        item = subscription["items"]["data"][0]
        customer = self.customers[subscription["customer"]]
        automatic = subscription["automatic_tax"]
        invoice: JSON = {
            "id": invoice_id,
            "object": "invoice",
            "amount_due": amount + exclusive,
            "amount_paid": 0,
            "amount_remaining": amount + exclusive,
            "attempt_count": 0,
            "attempted": False,
            "automatic_tax": {
                "disabled_reason": None,
                "enabled": automatic["enabled"],
                "liability": copy.deepcopy(automatic["liability"]),
                "provider": "stripe" if automatic["enabled"] else None,
                "status": "complete" if automatic["enabled"] else None,
            },
            "billing_reason": reason,
            "collection_method": "charge_automatically",
            "created": start,
            "currency": subscription["currency"],
            "customer": subscription["customer"],
            "customer_address": copy.deepcopy(customer.get("address")),
            "customer_email": self._subscription_extras[subscription["id"]]["email"],
            "customer_tax_exempt": "none",
            "customer_tax_ids": [
                {"type": t["type"], "value": t["value"]}
                for t in self.tax_ids.values()
                if t["customer"] == customer["id"]
            ],
            "hosted_invoice_url": f"{self.url}/invoice/{invoice_id}",  # type: ignore[attr-defined]
            "issuer": copy.deepcopy(subscription["invoice_settings"]["issuer"]),
            "lines": {
                "object": "list",
                "data": [
                    {
                        "id": api._new_id("il_"),
                        "object": "line_item",
                        "amount": amount,
                        "currency": subscription["currency"],
                        "description": subscription["description"],
                        "invoice": invoice_id,
                        "livemode": False,
                        "metadata": {},
                        "period": {"start": start, "end": end},
                        "parent": {
                            "type": "subscription_item_details",
                            "subscription_item_details": {
                                "invoice_item": None,
                                "proration": False,
                                "proration_details": {"credited_items": None},
                                "subscription": subscription["id"],
                                "subscription_item": item["id"],
                            },
                        },
                        "quantity": item["quantity"],
                        "taxes": copy.deepcopy(taxes),
                    }
                ],
                "has_more": False,
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": None,
            "on_behalf_of": subscription["on_behalf_of"],
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "metadata": dict(subscription["metadata"]),
                    "subscription": subscription["id"],
                },
            },
            "period_end": start,
            "period_start": start,
            "status": "open",
            "subtotal": amount,
            "subtotal_excluding_tax": amount - inclusive,
            "total": amount + exclusive,
            "total_excluding_tax": amount - inclusive,
            "total_taxes": taxes,
        }
        self.invoices[invoice_id] = invoice
        subscription["latest_invoice"] = invoice_id
        return invoice

    def _pay(self, invoice: JSON, fee: int | None) -> None:
        """The invoice's payment succeeds: a PaymentIntent and its charge (the platform fee as the percentage)."""
        api = _api()
        subscription = self.subscriptions[invoice["parent"]["subscription_details"]["subscription"]]
        amount = invoice["amount_due"]
        self._follow_schedule(subscription)
        # As at Stripe, the platform's percentage is of the invoice's total, tax included.
        percent = subscription["application_fee_percent"]
        application_fee = None
        if percent is not None:
            application_fee = int((Decimal(amount) * Decimal(str(percent)) / 100).quantize(Decimal(1), ROUND_HALF_UP))
        intent_id = api._new_id("pi_")
        transfer = subscription["transfer_data"]
        intent: JSON = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "application_fee_amount": application_fee,
            "capture_method": "automatic_async",
            "created": api._now(),
            "currency": invoice["currency"],
            "customer": subscription["customer"],
            "description": "Subscription update" if invoice["billing_reason"] != "subscription_create" else None,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": {},
            "on_behalf_of": subscription["on_behalf_of"],
            "payment_method_types": ["card"],
            "receipt_email": invoice["customer_email"],
            "status": "processing",
            "transfer_data": {"destination": transfer["destination"]} if transfer else None,
            "transfer_group": None,
        }
        self.payment_intents[intent_id] = intent
        payer = {"id": invoice["id"], "customer_email": invoice["customer_email"], "payment_status": "unpaid"}
        self._succeed(payer, intent, fee)  # type: ignore[attr-defined]
        payment_id = api._new_id("inpay_")
        self.invoice_payments[payment_id] = {
            "id": payment_id,
            "object": "invoice_payment",
            "amount_paid": amount,
            "amount_requested": amount,
            "created": api._now(),
            "currency": invoice["currency"],
            "invoice": invoice["id"],
            "is_default": True,
            "livemode": False,
            "payment": {"type": "payment_intent", "payment_intent": intent_id},
            "status": "paid",
            "status_transitions": {"canceled_at": None, "paid_at": api._now()},
        }
        invoice.update(
            status="paid",
            amount_paid=amount,
            amount_remaining=0,
            attempted=True,
            attempt_count=invoice["attempt_count"] + 1,
            next_payment_attempt=None,
        )
        if subscription["status"] in ("past_due", "unpaid"):
            subscription["status"] = "active"

    def _fail(self, invoice: JSON) -> None:
        api = _api()
        subscription = self.subscriptions[invoice["parent"]["subscription_details"]["subscription"]]
        invoice.update(
            attempted=True,
            attempt_count=invoice["attempt_count"] + 1,
            next_payment_attempt=api._now() + RETRY_AFTER,
        )
        if subscription["status"] == "active":
            subscription["status"] = "past_due"

    def _end(self, subscription: JSON, when: int) -> JSON:
        subscription.update(status="canceled", canceled_at=when, ended_at=when)
        subscription["cancellation_details"] = {"comment": None, "feedback": None, "reason": "cancellation_requested"}
        return copy.deepcopy(subscription)

    # ------------------------------------------------------------------ endpoints

    def _get_subscription(self, params: JSON, subscription_id: str) -> JSON:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise _api()._no_such("subscription", subscription_id)
        return subscription

    def _cancel_subscription(self, params: JSON, subscription_id: str) -> JSON:
        subscription = self._get_subscription(params, subscription_id)
        if subscription["status"] == "canceled":
            raise _api()._ApiError(
                400,
                "A canceled subscription can only update its cancellation_details and metadata.",
                code="resource_missing",
            )
        return self._end(subscription, _api()._now())

    def _create_schedule(self, params: JSON) -> JSON:
        api = _api()
        sub_id = params.get("from_subscription")
        if not sub_id:
            raise api._missing("from_subscription")
        subscription = self.subscriptions.get(str(sub_id))
        if subscription is None:
            raise api._no_such("subscription", str(sub_id), param="from_subscription", status=400)
        if subscription["schedule"]:
            raise api._ApiError(
                400,
                "You cannot migrate a subscription that is already attached to a schedule: "
                f"`{subscription['schedule']}`.",
                param="from_subscription",
            )
        item = subscription["items"]["data"][0]
        schedule_id = api._new_id("sub_sched_")
        schedule: JSON = {
            "id": schedule_id,
            "object": "subscription_schedule",
            "canceled_at": None,
            "completed_at": None,
            "created": api._now(),
            "current_phase": {"start_date": item["current_period_start"], "end_date": item["current_period_end"]},
            "customer": subscription["customer"],
            "end_behavior": "release",
            "livemode": False,
            "metadata": {},
            "phases": [
                {
                    "start_date": item["current_period_start"],
                    "end_date": item["current_period_end"],
                    "items": [{"price": item["price"]["id"], "quantity": item["quantity"], "metadata": {}}],
                    "application_fee_percent": subscription["application_fee_percent"],
                    "transfer_data": copy.deepcopy(subscription["transfer_data"]),
                    "currency": subscription["currency"],
                    "automatic_tax": copy.deepcopy(subscription["automatic_tax"]),
                    "invoice_settings": {
                        "account_tax_ids": None,
                        "days_until_due": None,
                        "issuer": copy.deepcopy(subscription["invoice_settings"]["issuer"]),
                    },
                    "on_behalf_of": subscription["on_behalf_of"],
                }
            ],
            "released_at": None,
            "released_subscription": None,
            "status": "active",
            "subscription": subscription["id"],
        }
        self.subscription_schedules[schedule_id] = schedule
        subscription["schedule"] = schedule_id
        return schedule

    def _get_schedule(self, params: JSON, schedule_id: str) -> JSON:
        schedule = self.subscription_schedules.get(schedule_id)
        if schedule is None:
            raise _api()._no_such("subscription_schedule", schedule_id)
        return schedule

    def _update_schedule(self, params: JSON, schedule_id: str) -> JSON:
        api = _api()
        schedule = self._get_schedule(params, schedule_id)
        end_behavior = params.get("end_behavior")
        if end_behavior is not None:
            schedule["end_behavior"] = api._one_of(end_behavior, "end_behavior", ("cancel", "release", "none", "renew"))
        phases = params.get("phases")
        if phases is not None:
            if not isinstance(phases, list) or not phases:
                raise api._ApiError(400, "Invalid array", param="phases")
            made = []
            for i, phase in enumerate(phases):
                start = api._required_int(phase.get("start_date"), f"phases[{i}][start_date]")
                if i == 0 and start != schedule["phases"][0]["start_date"]:
                    raise api._ApiError(
                        400, "You can not modify the start date of the current phase.", param="phases[0][start_date]"
                    )
                duration = api._dict(phase.get("duration"), f"phases[{i}][duration]")
                if phase.get("iterations") is not None:
                    raise api._ApiError(
                        400, "Received unknown parameter: phases[0][iterations]", param="phases[0][iterations]"
                    )
                if not duration and phase.get("end_date") is None:
                    raise api._missing(f"phases[{i}][end_date]")
                count = (
                    api._int(duration.get("interval_count"), f"phases[{i}][duration][interval_count]", minimum=1) or 1
                )
                if duration and duration.get("interval") != "month":
                    raise api._ApiError(400, "The fake bills monthly only.", param=f"phases[{i}][duration][interval]")
                items = phase.get("items")
                if not isinstance(items, list) or not items:
                    raise api._missing(f"phases[{i}][items]")
                end = (
                    start + count * MONTH
                    if duration
                    else api._required_int(phase["end_date"], f"phases[{i}][end_date]")
                )
                items = [
                    {
                        "price": str(item.get("price")),
                        "quantity": api._int(item.get("quantity"), f"phases[{i}][items][{n}][quantity]", minimum=1)
                        or 1,
                        "metadata": {},
                    }
                    for n, item in enumerate(items)
                    if isinstance(item, dict)
                ]
                # Stripe replaces the phases whole: what a phase doesn't say, it doesn't have.
                fee = phase.get("application_fee_percent")
                transfer = api._dict(phase.get("transfer_data"), f"phases[{i}][transfer_data]")
                made.append(
                    {
                        "start_date": start,
                        "end_date": end,
                        "items": items,
                        "application_fee_percent": float(fee) if fee not in (None, "") else None,
                        "transfer_data": {"destination": transfer["destination"]} if transfer else None,
                        "currency": schedule["phases"][0]["currency"],
                        **self._phase_tax(phase, f"phases[{i}]"),
                    }
                )
            schedule["phases"] = made
        metadata = params.get("metadata")
        if metadata is not None:
            schedule["metadata"] = api._dict(metadata, "metadata")
        return schedule

    def _phase_tax(self, phase: JSON, param: str) -> JSON:
        """A new phase's ``automatic_tax``, ``invoice_settings[issuer]`` and ``on_behalf_of``: what it leaves out, it
        doesn't have (automatic tax off, the platform issuing), as at Stripe.
        """
        api = _api()
        automatic = self._automatic_tax_param(phase.get("automatic_tax"), f"{param}[automatic_tax]")
        settings = api._dict(phase.get("invoice_settings"), f"{param}[invoice_settings]")
        issuer = settings.get("issuer")
        if issuer:
            issuer = self._account_ref(issuer, f"{param}[invoice_settings][issuer]")
        if automatic is not None and automatic["enabled"]:
            self._require_active_settings(automatic["liability"], f"{param}[automatic_tax][enabled]")
            self._match_issuer(automatic["liability"], issuer, f"{param}[automatic_tax][liability]")
        return {
            "automatic_tax": {
                "disabled_reason": None,
                "enabled": bool(automatic and automatic["enabled"]),
                "liability": automatic["liability"] if automatic else None,
            },
            "invoice_settings": {"account_tax_ids": None, "days_until_due": None, "issuer": issuer} if issuer else None,
            "on_behalf_of": self._known_account(phase.get("on_behalf_of"), f"{param}[on_behalf_of]"),
        }

    def _get_invoice(self, params: JSON, invoice_id: str) -> JSON:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            raise _api()._no_such("invoice", invoice_id)
        return invoice

    def _list_invoices(self, params: JSON) -> JSON:
        """A subscription's invoices, newest first (every one fits: no pagination)."""
        subscription, status = params.get("subscription"), params.get("status")
        rows = [
            invoice
            for invoice in self.invoices.values()
            if (not subscription or invoice["parent"]["subscription_details"]["subscription"] == subscription)
            and (not status or invoice["status"] == status)
        ]
        rows.sort(key=lambda invoice: invoice["created"], reverse=True)
        return {"object": "list", "data": copy.deepcopy(rows), "has_more": False, "url": "/v1/invoices"}

    def _list_invoice_payments(self, params: JSON) -> JSON:
        invoice_id, status = params.get("invoice"), params.get("status")
        rows = [
            p
            for p in self.invoice_payments.values()
            if (not invoice_id or p["invoice"] == invoice_id) and (not status or p["status"] == status)
        ]
        return {"object": "list", "data": copy.deepcopy(rows), "has_more": False, "url": "/v1/invoice_payments"}

    def _create_portal_session(self, params: JSON) -> JSON:
        api = _api()
        customer = params.get("customer")
        if not customer:
            raise api._missing("customer")
        if customer not in self.customers:
            raise api._no_such("customer", str(customer), param="customer", status=400)
        flow = api._dict(params.get("flow_data"), "flow_data")
        if flow:
            api._one_of(
                flow.get("type"),
                "flow_data[type]",
                ("payment_method_update", "subscription_cancel", "subscription_update", "subscription_update_confirm"),
            )
        session_id = api._new_id("bps_")
        session: JSON = {
            "id": session_id,
            "object": "billing_portal.session",
            "configuration": "bpc_fake",
            "created": api._now(),
            "customer": customer,
            "flow": copy.deepcopy(flow) or None,
            "livemode": False,
            "locale": None,
            "on_behalf_of": None,
            "return_url": params.get("return_url"),
            "url": f"{self.url}/portal/{session_id}",  # type: ignore[attr-defined]
        }
        self.portal_sessions[session_id] = session
        return session
