"""A fake Stripe API, served over real HTTP on 127.0.0.1, for the test-suite.

The application talks to it with the real ``stripe`` library (point the client's
``base_addresses`` at :attr:`FakeStripe.url`), so the whole path is exercised: the
library's form encoding, headers, retries, error mapping and response parsing.

What is faked
    * ``POST /v1/checkout/sessions``, ``GET /v1/checkout/sessions/<id>``,
      ``POST /v1/checkout/sessions/<id>/expire`` (one-off payments with ``price_data``
      line items; ``payment_intent_data`` is kept so tests can assert it).
    * ``GET /v1/payment_intents/<id>``, ``GET /v1/charges/<id>``,
      ``GET /v1/balance_transactions/<id>``, ``POST /v1/refunds``, ``GET /v1/refunds?charge=…|payment_intent=…``,
      ``GET /v1/refunds/<id>`` (``expand[]=refunds`` on a charge lists its refunds too).
    * ``POST /v1/accounts``, ``GET /v1/accounts/<id>``, ``POST /v1/account_links``.
    * ``POST /v1/coupons``, ``GET`` and ``DELETE /v1/coupons/<id>``, and a session's ``discounts`` naming one: the
      session's ``amount_total`` and ``total_details.amount_discount`` follow it (an amount off down to
      zero, a percentage rounded half up); completing the session redeems it, and one redeemed
      ``max_redemptions`` times is no longer ``valid``. ``discounts`` with ``allow_promotion_codes``, an
      unknown or spent coupon, or one in another currency are refused as Stripe refuses them.
    * Stripe Tax (:mod:`tests.fakes.stripe_tax`): ``GET``/``POST /v1/tax/settings``, ``POST``/``GET
      /v1/tax/registrations``, ``GET``/``POST /v1/tax/registrations/<id>`` (each account's own, by the
      ``Stripe-Account`` header), ``GET /v1/customers/<id>/tax_ids[/<id>]``; a session's ``automatic_tax``
      (with its ``liability``), ``tax_id_collection``, prices' ``tax_behavior`` and products' ``tax_code``,
      ``payment_intent_data[on_behalf_of]``, ``subscription_data[on_behalf_of]`` and
      ``subscription_data[invoice_settings][issuer]``, refused as Stripe refuses them; the tax computed when the
      buyer completes the session (``complete_session(country=…, postal_code=…, state=…, tax_ids=…)``) and on each
      subscription invoice (``total_taxes``). Controls: :meth:`FakeStripe.set_tax_rate`,
      :meth:`FakeStripe.register_for_tax`, :meth:`FakeStripe.clear_tax_settings`; inspection:
      :meth:`FakeStripe.tax_settings`, :meth:`FakeStripe.total_taxes`, :meth:`FakeStripe.tax_codes`.
    * Connect application fees (:mod:`tests.fakes.stripe_fees`): every charge with a positive
      ``application_fee_amount`` (a Checkout payment's, a subscription invoice's) carries ``application_fee``, the
      id of an ``application_fee`` object (else null); ``GET /v1/application_fees[?charge=…]``,
      ``GET /v1/application_fees/<id>``, ``GET``/``POST /v1/application_fees/<id>/refunds`` and
      ``GET``/``POST /v1/application_fees/<id>/refunds/<id>`` (``fee_refund`` objects); a charge refund with
      ``refund_application_fee=true`` gives the fee back in proportion (all that is left when the refund takes the
      rest of the charge). Control: :meth:`FakeStripe.refund_fee_outside_app`, and
      ``refund_outside_app(…, refund_application_fee=True)``.
    * ``expand[]`` on every ``GET``/``POST`` answer (ids are replaced by the stored
      objects, along dotted paths such as ``payment_intent.latest_charge.balance_transaction``).
    * Bearer authentication (present or 401), idempotency keys (replay, or 400
      ``idempotency_error`` when the parameters differ), Stripe's error JSON shape.
    * Things that happen at Stripe rather than through the API are Python methods
      ("test controls"): a customer paying (:meth:`FakeStripe.complete_session`), a
      bank debit settling (:meth:`FakeStripe.settle_async`), refunds and disputes made
      in the dashboard, a connected account finishing onboarding; plus building and
      signing webhook events (:meth:`FakeStripe.event`, :meth:`FakeStripe.signed`).
    * The hard shapes: promotion codes (``complete_session(discount=…)``: ``amount_subtotal``,
      ``total_details.amount_discount``, ``discounts``, the application fee capped at what was
      paid), Adaptive Pricing (``presentment_currency``: ``currency_conversion``), a settlement
      currency other than the charge's (``settlement_currency``: the balance transaction's
      ``currency`` and ``exchange_rate``), refunds that start ``pending`` and later succeed, fail or
      are canceled (:meth:`FakeStripe.refunds_start_as`, :meth:`FakeStripe.settle_refund`), and
      every dispute status (:meth:`FakeStripe.open_dispute`, :meth:`FakeStripe.update_dispute`,
      :meth:`FakeStripe.close_dispute`).
    * Failures: :meth:`FakeStripe.fail_next` (5xx answers) and
      :meth:`FakeStripe.go_down` / :meth:`FakeStripe.come_back` (connections reset).

What is not faked
    * Webhook delivery: the fake never calls the application. Tests build an event with
      :meth:`FakeStripe.event`, sign it with :meth:`FakeStripe.signed` and POST it to the
      application's webhook themselves.
    * Prices, products, transfers (and the connected account's payment a destination charge's transfer makes: an
      application fee's ``charge`` names it, but it is not an object here) and tax rates as objects of their own;
      list endpoints other than refunds, invoices, invoice payments, tax registrations, customers' tax IDs,
      application fees and their refunds; pagination; search;
      Stripe's tax rules (a test sets the rates; see :mod:`tests.fakes.stripe_tax`); API versions
      (the ``Stripe-Version`` header is recorded, not enforced);
      ``Stripe-Account`` scoping outside Stripe Tax (the header is recorded, not enforced); rate limits;
      time passing (sessions never expire by themselves).
    * Stripe's parameter typing is only applied to the parameters the fake reads. Other
      parameters are accepted and recorded as the strings the library sent.

Inspection: :attr:`FakeStripe.requests` / :meth:`FakeStripe.find_requests` (every request,
params decoded), :meth:`FakeStripe.payment_intent_data` and :meth:`FakeStripe.line_items`
(what a session was created with), the object dicts, and :attr:`FakeStripe.errors`
(exceptions inside the fake, which answer 500; a test fixture should assert it is empty).

Like Stripe, a ``payment_intent_data[transfer_data][destination]`` must name an account
the fake knows: create it through the API or seed it with :meth:`FakeStripe.add_account`.

The hosted pages (``<url>/pay/<session id>``, ``<url>/onboard/<account id>``) answer a
one-line HTML page, so a browser following the redirect lands somewhere.

Example::

    with FakeStripe() as fake:
        client = stripe.StripeClient(
            "sk_test_fake",
            base_addresses={"api": fake.url, "connect": fake.url, "files": fake.url},
            max_network_retries=0,
        )
        session = client.v1.checkout.sessions.create(params={...})
        paid = fake.complete_session(session.id)
        body, headers = fake.signed(fake.event("checkout.session.completed", paid), "whsec_test")
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import html
import json
import re
import secrets
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl

import stripe
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .stripe_billing import BillingMixin
from .stripe_fees import FeesMixin
from .stripe_tax import TaxMixin

JSON = dict[str, Any]

#: The API version stamped on events: the one the installed stripe library is pinned to.
API_VERSION: str = stripe.api_version

#: Stripe's default processing fee (2.9 % + 30 cents), used when a test does not pick one.
FEE_PERCENT = Decimal("0.029")
FEE_FIXED = 30

#: Sessions may expire between 30 minutes and 24 hours after creation. The lower bound
#: allows a few seconds for the request to travel, so ``now + 30 min`` is accepted.
MIN_EXPIRY = 30 * 60
MAX_EXPIRY = 24 * 60 * 60
EXPIRY_SLACK = 5

_DEFAULT_CURRENCY = {"US": "usd", "CA": "cad", "GB": "gbp", "AU": "aud", "NZ": "nzd", "IE": "eur", "DE": "eur"}
_CURRENCY_SYMBOL = {"usd": "$", "cad": "$", "aud": "$", "nzd": "$", "eur": "€", "gbp": "£"}
_OPEN_DISPUTE = ("warning_needs_response", "needs_response", "under_review", "warning_under_review")
_CLOSED_DISPUTE = ("won", "lost", "warning_closed", "prevented")
_REFUND_STATUSES = ("pending", "requires_action", "succeeded", "failed", "canceled")
#: Stripe's zero-decimal currencies (an amount is a count of whole units).
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)


# --------------------------------------------------------------------------- helpers


def sign_payload(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header value for ``payload``, as Stripe computes it.

    Stripe signs ``f"{timestamp}.{payload}"`` with HMAC-SHA256 keyed by the endpoint's
    signing secret and sends ``t=<timestamp>,v1=<hex digest>``.
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    body = payload if isinstance(payload, bytes) else payload.encode("utf-8")
    signed = str(ts).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT_RE = re.compile(r"\[([^\[\]]*)\]")


def decode_params(encoded: str | Iterable[tuple[str, str]]) -> JSON:
    """Decode Stripe's nested form encoding into dicts and lists.

    ``a[b][0][c]=1&a[b][1][c]=2&expand[]=x&metadata[k]=v`` becomes
    ``{"a": {"b": [{"c": "1"}, {"c": "2"}]}, "expand": ["x"], "metadata": {"k": "v"}}``.
    A dict whose keys are all digits becomes a list in numeric order, except directly
    under ``metadata`` (whose keys are the caller's). ``name[]`` appends to a list. Values
    stay strings, as on the wire. Raises ``ValueError`` for a malformed or clashing key.
    """
    pairs = parse_qsl(encoded, keep_blank_values=True) if isinstance(encoded, str) else list(encoded)
    root: JSON = {}
    for key, value in pairs:
        match = _KEY_RE.match(key)
        if match is None:
            raise ValueError(f"Invalid parameter name: {key!r}")
        path = [match.group(1), *_SEGMENT_RE.findall(match.group(2))]
        node = root
        for depth, raw_segment in enumerate(path):
            segment = raw_segment if raw_segment != "" else str(len(node))
            if depth == len(path) - 1:
                if isinstance(node.get(segment), dict):
                    raise ValueError(f"Parameter {key!r} clashes with a nested parameter of the same name")
                node[segment] = value
            else:
                child = node.setdefault(segment, {})
                if not isinstance(child, dict):
                    raise ValueError(f"Parameter {key!r} clashes with a plain parameter of the same name")
                node = child
    return _listify(root, None)


def _listify(value: Any, key: str | None) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {k: _listify(v, k) for k, v in value.items()}
    if converted and key != "metadata" and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def _new_id(prefix: str, nbytes: int = 12) -> str:
    return f"{prefix}{secrets.token_hex(nbytes)}"


def _now() -> int:
    return int(time.time())


def _stripe_fee(amount: int) -> int:
    return int((Decimal(amount) * FEE_PERCENT).quantize(Decimal(1), rounding=ROUND_HALF_UP)) + FEE_FIXED


def _minor_per_unit(currency: str) -> Decimal:
    return Decimal(1) if currency.lower() in ZERO_DECIMAL else Decimal(100)


def _convert(amount: int, from_currency: str, to_currency: str, rate: Decimal) -> int:
    """``amount`` (minor units of one currency) at ``rate`` in minor units of another, rounded half up."""
    major = Decimal(amount) / _minor_per_unit(from_currency) * rate
    return int((major * _minor_per_unit(to_currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _money(amount: int, currency: str) -> str:
    symbol = _CURRENCY_SYMBOL.get(currency)
    figure = f"{Decimal(amount) / 100:.2f}"
    return f"{symbol}{figure}" if symbol else f"{figure} {currency.upper()}"


class _ApiError(Exception):
    """An error answer, in Stripe's ``{"error": {...}}`` shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: JSON = {"error": {"type": type, "message": message}}
        if code is not None:
            self.body["error"]["code"] = code
        if param is not None:
            self.body["error"]["param"] = param


def _missing(param: str) -> _ApiError:
    return _ApiError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def _no_such(kind: str, object_id: str, *, param: str = "id", status: int = 404) -> _ApiError:
    return _ApiError(status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def _int(value: Any, param: str, *, minimum: int | None = None) -> int | None:
    """A form value as an integer (None when absent), with Stripe's complaint when it is not one."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _ApiError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param) from None
    if minimum is not None and number < minimum:
        raise _ApiError(
            400,
            f"This value must be greater than or equal to {minimum}.",
            code="parameter_invalid_integer",
            param=param,
        )
    return number


def _required_int(value: Any, param: str, *, minimum: int | None = None) -> int:
    number = _int(value, param, minimum=minimum)
    if number is None:
        raise _missing(param)
    return number


def _bool(value: Any, param: str) -> bool | None:
    if value is None or value == "":
        return None
    if value in (True, "true"):
        return True
    if value in (False, "false"):
        return False
    raise _ApiError(400, f"Invalid boolean: {value}", code="parameter_invalid_empty", param=param)


def _dict(value: Any, param: str) -> JSON:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise _ApiError(400, f"Invalid object: {param} must be a hash", param=param)
    return value


def _one_of(value: Any, param: str, allowed: Iterable[str]) -> str:
    options = list(allowed)
    if value not in options:
        listed = ", ".join(options[:-1]) + f", or {options[-1]}"
        raise _ApiError(400, f"Invalid {param}: must be one of {listed}", param=param)
    return str(value)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, as tests want to see it."""

    method: str
    path: str
    params: JSON
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")

    @property
    def stripe_account(self) -> str | None:
        return self.headers.get("Stripe-Account")


@dataclass(frozen=True)
class _Stored:
    """A remembered answer for an idempotency key."""

    method: str
    path: str
    params: JSON
    status: int
    body: str


@dataclass
class _Failure:
    status: int
    message: str
    type: str
    path_prefix: str = "/v1/"  # only requests to paths starting so fail; others go through


def _handler_class(is_down: Callable[[], bool]) -> type[WSGIRequestHandler]:
    """A quiet request handler that resets connections while the fake is "down".

    HTTP/1.0 closes each connection after its answer, so no idle keep-alive connection
    survives :meth:`FakeStripe.go_down` and every request meets the reset.
    """

    class _Handler(WSGIRequestHandler):
        protocol_version = "HTTP/1.0"

        def handle(self) -> None:
            if is_down():
                # Linger 0: closing sends a TCP reset, as a dead load balancer would.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                return
            super().handle()

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """No access log: the requests are in :attr:`FakeStripe.requests`."""

    return _Handler


# --------------------------------------------------------------------------- the fake


class FakeStripe(BillingMixin, TaxMixin, FeesMixin):
    """In-memory Stripe, answering over HTTP on loopback.

    State lives in plain dicts keyed by id (:attr:`sessions`, :attr:`payment_intents`,
    :attr:`charges`, :attr:`balance_transactions`, :attr:`refunds`, :attr:`accounts`,
    :attr:`disputes`, :attr:`application_fees`, :attr:`fee_refunds`, and those of the mixins)
    and is Stripe-shaped; read it freely, change it through the test controls. One re-entrant
    lock serialises the HTTP handlers and the test controls.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._lock = threading.RLock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._down = False
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., JSON]]] = [
            ("POST", re.compile(r"/v1/checkout/sessions"), self._create_session),
            ("GET", re.compile(r"/v1/checkout/sessions/([^/]+)"), self._get_session),
            ("POST", re.compile(r"/v1/checkout/sessions/([^/]+)/expire"), self._expire_session),
            ("GET", re.compile(r"/v1/payment_intents/([^/]+)"), self._get_payment_intent),
            ("GET", re.compile(r"/v1/charges/([^/]+)"), self._get_charge),
            ("GET", re.compile(r"/v1/balance_transactions/([^/]+)"), self._get_balance_transaction),
            ("POST", re.compile(r"/v1/refunds"), self._create_refund),
            ("GET", re.compile(r"/v1/refunds"), self._list_refunds),
            ("GET", re.compile(r"/v1/refunds/([^/]+)"), self._get_refund),
            ("GET", re.compile(r"/v1/disputes/([^/]+)"), self._get_dispute),
            ("POST", re.compile(r"/v1/accounts"), self._create_account),
            ("GET", re.compile(r"/v1/accounts/([^/]+)"), self._get_account),
            ("POST", re.compile(r"/v1/account_links"), self._create_account_link),
            ("POST", re.compile(r"/v1/coupons"), self._create_coupon),
            ("GET", re.compile(r"/v1/coupons/([^/]+)"), self._get_coupon),
            ("DELETE", re.compile(r"/v1/coupons/([^/]+)"), self._delete_coupon),
            *self._billing_routes(),
            *self._tax_routes(),
            *self._fee_routes(),
        ]
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeStripe:
        """Listen on a free port of the host and serve from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeStripe is already running")
        server = make_server(self._host, 0, self._wsgi, threaded=True, request_handler=_handler_class(self._is_down))
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=f"fake-stripe:{server.port}", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the base address to give the stripe client."""
        if self._server is None:
            raise RuntimeError("FakeStripe is not running: call start() first")
        return f"http://{self._host}:{self._server.port}"

    def reset(self) -> None:
        """Forget every object, request, stored idempotent answer and pending failure."""
        with self._lock:
            self.sessions: dict[str, JSON] = {}
            self.payment_intents: dict[str, JSON] = {}
            self.charges: dict[str, JSON] = {}
            self.balance_transactions: dict[str, JSON] = {}
            self.refunds: dict[str, JSON] = {}
            self.accounts: dict[str, JSON] = {}
            self.account_links: list[JSON] = []
            self.disputes: dict[str, JSON] = {}
            self.coupons: dict[str, JSON] = {}
            self._reset_billing()
            self._reset_tax()
            self._reset_fees()
            #: The ``Stripe-Account`` header of the request being answered (the lock makes it one at a time).
            self._acting_account: str | None = None
            #: Every request received, oldest first (requests reset while "down" are not).
            self.requests: list[RecordedRequest] = []
            #: Unexpected exceptions raised inside the fake (answered as 500 api_error).
            self.errors: list[BaseException] = []
            self._session_extras: dict[str, JSON] = {}
            self._settlements: dict[str, tuple[str | None, str | None]] = {}
            self._idempotent: dict[tuple[str | None, str], _Stored] = {}
            self._failures: list[_Failure] = []
            self._down = False
            self._new_refund_status = "succeeded"

    # ------------------------------------------------------------------ failure injection

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        message: str = "Stripe is having a bad day.",
        error_type: str = "api_error",
        *,
        path_prefix: str = "/v1/",
    ) -> None:
        """Answer the next ``n`` API requests (to paths starting with ``path_prefix``) with ``status`` and an
        ``api_error`` body.

        Failed requests store nothing under their idempotency key, so a retry with the
        same key goes through once the failures are used up.
        """
        with self._lock:
            self._failures.extend(_Failure(status, message, error_type, path_prefix) for _ in range(n))

    def go_down(self) -> None:
        """Reset every new connection (the client sees a connection error) until :meth:`come_back`."""
        self._down = True

    def come_back(self) -> None:
        """Answer requests again after :meth:`go_down`."""
        self._down = False

    def _is_down(self) -> bool:
        return self._down

    # ------------------------------------------------------------------ inspection

    def find_requests(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """The recorded requests with this method and/or path."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method.upper()) and (path is None or r.path == path)
            ]

    def payment_intent_data(self, session_id: str) -> JSON:
        """The ``payment_intent_data`` a session was created with (amounts as integers)."""
        with self._lock:
            return copy.deepcopy(self._session_extras[session_id]["payment_intent_data"])

    def tax_codes(self, session_id: str) -> list[str | None]:
        """The tax code each of a session's line items named (``price_data[product_data][tax_code]``), or None."""
        with self._lock:
            return list(self._session_extras[session_id]["tax_codes"])

    def total_taxes(self, session_id: str) -> list[JSON]:
        """The taxes computed when the session completed, shaped like an invoice's ``total_taxes`` (one per tax
        behaviour; empty without automatic tax). Stripe shows a session's only as ``total_details.amount_tax``.
        """
        with self._lock:
            return copy.deepcopy(self._session_extras[session_id]["total_taxes"])

    def line_items(self, session_id: str) -> list[JSON]:
        """A session's line items, shaped like Stripe's ``item`` objects."""
        with self._lock:
            return copy.deepcopy(self._session_extras[session_id]["line_items"])

    # ------------------------------------------------------------------ test controls

    def complete_session(
        self,
        session_id: str,
        *,
        paid: bool = True,
        fee: int | None = None,
        discount: int = 0,
        presentment_currency: str | None = None,
        fx_rate: str = "1",
        settlement_currency: str | None = None,
        exchange_rate: str | None = None,
        country: str = "US",
        postal_code: str | None = None,
        state: str | None = None,
        tax_ids: list[tuple[str, str]] | None = None,
    ) -> JSON:
        """The customer finishes Checkout.

        Creates the PaymentIntent and, when ``paid``, its Charge and BalanceTransaction
        (``fee`` in minor units of the settlement currency, default 2.9 % + 30). With
        ``paid=False`` the payment method is a delayed one (ACH, SEPA debit): the
        PaymentIntent is ``processing``, there is no charge yet and the session stays
        ``unpaid`` until :meth:`settle_async`.

        ``discount`` is a promotion code's amount off the subtotal (the whole subtotal: no
        payment at all). ``presentment_currency`` is Adaptive Pricing: the customer pays in
        that currency at ``fx_rate`` (customer currency per unit of ours) and the session
        carries ``currency_conversion``; the payment then settles in our currency.
        ``settlement_currency`` and ``exchange_rate`` (settlement units per charge unit)
        settle the charge in another currency.

        ``country``, ``postal_code`` and ``state`` are the buyer's billing address and ``tax_ids`` the
        ``(type, value)`` tax IDs they entered (only on a session with ``tax_id_collection`` enabled). With
        automatic tax on, the tax is computed there (see :mod:`tests.fakes.stripe_tax`): exclusive tax is added to
        ``amount_total``, so the payment is the total with tax. Returns the session as a webhook carries it
        (``payment_intent`` as an id).
        """
        with self._lock:
            session = self._session(session_id)
            if session["status"] != "open":
                raise ValueError(f"Checkout Session {session_id} is {session['status']}, not open")
            address = self._address(country, postal_code, state)
            buyer_tax_ids = self._checked_tax_ids(session, tax_ids)
            self._apply_discount(session, discount)
            self._tax_session(session, address, buyer_tax_ids)
            session["customer_details"] = {
                "address": address,
                "email": session["customer_email"],
                "name": None,
                "phone": None,
                "tax_exempt": "none",
                "tax_ids": buyer_tax_ids,
            }
            if presentment_currency is not None:
                self._adapt(session, presentment_currency.lower(), Decimal(fx_rate))
                if settlement_currency is None:
                    source = session["currency_conversion"]["source_currency"]
                    settlement_currency, exchange_rate = source, str(1 / Decimal(fx_rate))
            self._settlements[session_id] = (settlement_currency, exchange_rate)
            self._redeem(session)
            if session["mode"] == "subscription":
                self._start_subscription(session, fee)
                return copy.deepcopy(session)
            if session["amount_total"] == 0:
                session.update(status="complete", payment_status="no_payment_required", url=None)
                return copy.deepcopy(session)
            pi_data = self._session_extras[session_id]["payment_intent_data"]
            transfer_data = pi_data.get("transfer_data") or None
            intent_id = _new_id("pi_")
            intent: JSON = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": session["amount_total"],
                "amount_capturable": 0,
                "amount_received": 0,
                "application_fee_amount": pi_data.get("application_fee_amount"),
                "capture_method": "automatic_async",
                "created": _now(),
                "currency": session["currency"],
                "customer": None,
                "description": pi_data.get("description"),
                "last_payment_error": None,
                "latest_charge": None,
                "livemode": False,
                "metadata": dict(pi_data.get("metadata") or {}),
                "on_behalf_of": pi_data.get("on_behalf_of"),
                "payment_method_types": list(session["payment_method_types"]),
                "receipt_email": session["customer_email"],
                "status": "processing",
                "transfer_data": {"destination": transfer_data["destination"]} if transfer_data else None,
                "transfer_group": f"group_{intent_id}" if transfer_data else None,
            }
            self.payment_intents[intent_id] = intent
            session.update(
                status="complete",
                payment_status="unpaid",
                payment_intent=intent_id,
                url=None,
            )
            if paid:
                self._succeed(session, intent, fee)
            return copy.deepcopy(session)

    def _apply_discount(self, session: JSON, discount: int) -> None:
        if not discount:
            return
        if not session["allow_promotion_codes"]:
            raise ValueError(f"Checkout Session {session['id']} takes no promotion codes (allow_promotion_codes)")
        if not 0 < discount <= session["amount_subtotal"]:
            raise ValueError(f"A discount of {discount} doesn't fit a subtotal of {session['amount_subtotal']}")
        session["amount_total"] = session["amount_subtotal"] - discount
        session["total_details"]["amount_discount"] = discount
        session["discounts"] = [{"coupon": None, "promotion_code": _new_id("promo_", 8)}]

    def _adapt(self, session: JSON, currency: str, rate: Decimal) -> None:
        """Adaptive Pricing: the customer sees and pays the session's amounts in ``currency``."""
        source = session["currency"]
        details = session["total_details"]
        exclusive_tax = session["amount_total"] - (session["amount_subtotal"] - details["amount_discount"])
        session["currency_conversion"] = {
            "amount_subtotal": session["amount_subtotal"],
            "amount_total": session["amount_total"],
            "fx_rate": str(rate),
            "source_currency": source,
        }
        for key in ("amount_subtotal", "amount_total"):
            session[key] = _convert(session[key], source, currency, rate)
        details["amount_tax"] = _convert(details["amount_tax"], source, currency, rate)
        exclusive_tax = _convert(exclusive_tax, source, currency, rate)
        details["amount_discount"] = session["amount_subtotal"] - session["amount_total"] + exclusive_tax
        session["currency"] = currency

    def settle_async(self, session_id: str, succeeded: bool, *, fee: int | None = None) -> JSON:
        """A delayed payment (``complete_session(paid=False)``) settles or fails.

        On success the Charge and BalanceTransaction appear, the PaymentIntent succeeds and
        the session becomes ``paid`` (Stripe then sends
        ``checkout.session.async_payment_succeeded``); on failure the PaymentIntent goes
        back to ``requires_payment_method`` (``checkout.session.async_payment_failed``).
        Returns the session dict.
        """
        with self._lock:
            session = self._session(session_id)
            intent = self.payment_intents.get(session["payment_intent"] or "")
            if intent is None or intent["status"] != "processing":
                raise ValueError(f"Checkout Session {session_id} has no payment waiting to settle")
            if succeeded:
                self._succeed(session, intent, fee)
            else:
                intent["status"] = "requires_payment_method"
                # Only the keys Stripe's OpenAPI fixture shows for a payment error (see test_stripe_conformance).
                intent["last_payment_error"] = {"type": "invalid_request_error"}
            return copy.deepcopy(session)

    def expire_session(self, session_id: str) -> JSON:
        """The session reaches its ``expires_at`` unpaid. Returns the session dict."""
        with self._lock:
            session = self._session(session_id)
            if session["status"] != "open":
                raise ValueError(f"Checkout Session {session_id} is {session['status']}, not open")
            session.update(status="expired", url=None)
            return copy.deepcopy(session)

    def refund_outside_app(
        self,
        payment_intent_id: str,
        amount: int | None = None,
        *,
        status: str = "succeeded",
        with_refunds: bool = False,
        refund_application_fee: bool = False,
    ) -> JSON:
        """Someone refunds in the Stripe dashboard (default: all that is left). Returns the charge dict.

        ``status`` is the new refund's (``pending`` for one that settles later, see :meth:`settle_refund`).
        ``refund_application_fee`` gives back the application fee in proportion, as the API's option does.
        ``with_refunds`` returns the charge with its ``refunds`` list, as an older API version sends it;
        without, the charge carries no refunds and a reader lists them from ``/v1/refunds``.
        """
        _one_of(status, "status", _REFUND_STATUSES)
        with self._lock:
            intent = self.payment_intents.get(payment_intent_id)
            if intent is None:
                raise KeyError(f"No such payment_intent: {payment_intent_id}")
            try:
                options = {"refund_application_fee": refund_application_fee}
                refund = self._refund(intent, None, amount, options, status)
            except _ApiError as e:
                raise ValueError(str(e)) from None
            return self.charge(refund["charge"], with_refunds=with_refunds)

    def charge(self, charge_id: str, *, with_refunds: bool = False) -> JSON:
        """A charge as an event carries it, with its ``refunds`` list or (as the current API sends it) without."""
        with self._lock:
            charge = copy.deepcopy(self.charges[charge_id])
            if with_refunds:
                mine = [r for r in self.refunds.values() if r["charge"] == charge_id]
                charge["refunds"] = self._list(mine, f"/v1/charges/{charge_id}/refunds")
            return charge

    def refunds_start_as(self, status: str) -> None:
        """Refunds created through the API from now on start in ``status`` (``pending``: settled later)."""
        _one_of(status, "status", _REFUND_STATUSES)
        self._new_refund_status = status

    def settle_refund(self, refund_id: str, status: str) -> JSON:
        """A refund moves on: ``succeeded``, or ``failed`` / ``canceled`` (the amount goes back on the charge).

        A card refund can fail even after it succeeded (the card was closed). Returns the refund dict.
        """
        _one_of(status, "status", ("succeeded", "failed", "canceled"))
        with self._lock:
            refund = self.refunds.get(refund_id)
            if refund is None:
                raise KeyError(f"No such refund: {refund_id}")
            if refund["status"] in ("failed", "canceled"):
                raise ValueError(f"Refund {refund_id} is already {refund['status']}")
            if status == "canceled" and refund["status"] not in ("pending", "requires_action"):
                raise ValueError(f"Only a pending refund can be canceled, not a {refund['status']} one")
            refund["status"] = status
            if status in ("failed", "canceled"):
                charge = self.charges[refund["charge"]]
                charge["amount_refunded"] -= refund["amount"]
                charge["refunded"] = False
            return copy.deepcopy(refund)

    def open_dispute(
        self, charge_id: str, *, amount: int | None = None, reason: str = "fraudulent", status: str = "needs_response"
    ) -> JSON:
        """The cardholder disputes a charge (``warning_needs_response``: an inquiry). Returns the dispute."""
        _one_of(status, "status", _OPEN_DISPUTE)
        with self._lock:
            charge = self.charges.get(charge_id)
            if charge is None:
                raise KeyError(f"No such charge: {charge_id}")
            now = _now()
            dispute: JSON = {
                "id": _new_id("dp_"),
                "object": "dispute",
                "amount": charge["amount"] - charge["amount_refunded"] if amount is None else amount,
                "balance_transactions": [],
                "charge": charge_id,
                "created": now,
                "currency": charge["currency"],
                "evidence": {},
                "evidence_details": {"due_by": now + 7 * 86400, "has_evidence": False, "past_due": False},
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "status": status,
            }
            self.disputes[dispute["id"]] = dispute
            charge["disputed"] = True
            return copy.deepcopy(dispute)

    def update_dispute(self, dispute_id: str, status: str) -> JSON:
        """An open dispute moves on (evidence sent: ``under_review``; an inquiry escalated: ``needs_response``)."""
        _one_of(status, "status", _OPEN_DISPUTE)
        with self._lock:
            dispute = self._open_dispute(dispute_id)
            dispute["status"] = status
            return copy.deepcopy(dispute)

    def close_dispute(
        self, dispute_id: str, status: Literal["won", "lost", "warning_closed", "prevented"] = "won"
    ) -> JSON:
        """The bank decides a dispute; an inquiry closes as ``warning_closed``. Returns the dispute dict."""
        _one_of(status, "status", _CLOSED_DISPUTE)
        with self._lock:
            dispute = self._open_dispute(dispute_id)
            inquiry = dispute["status"].startswith("warning_")
            if (status == "warning_closed") != inquiry and status != "prevented":
                raise ValueError(f"A dispute in {dispute['status']} does not close as {status}")
            dispute["status"] = status
            dispute["is_charge_refundable"] = False
            return copy.deepcopy(dispute)

    def _open_dispute(self, dispute_id: str) -> JSON:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            raise KeyError(f"No such dispute: {dispute_id}")
        if dispute["status"] not in _OPEN_DISPUTE:
            raise ValueError(f"Dispute {dispute_id} is already {dispute['status']}")
        return dispute

    def add_account(
        self,
        account_id: str | None = None,
        *,
        email: str | None = None,
        country: str = "US",
        charges_enabled: bool = True,
        details_submitted: bool = True,
        payouts_enabled: bool = True,
        metadata: dict[str, str] | None = None,
    ) -> JSON:
        """A connected account that exists before the test (e.g. for seeded rows). Returns it."""
        with self._lock:
            account = self._new_account(
                {"type": "express", "email": email, "country": country, "metadata": metadata or {}},
                account_id=account_id,
            )
            return self.update_account(account["id"], charges_enabled, details_submitted, payouts_enabled)

    def update_account(
        self,
        account_id: str,
        charges_enabled: bool = True,
        details_submitted: bool = True,
        payouts_enabled: bool = True,
    ) -> JSON:
        """A connected account moves through onboarding. Returns the account dict."""
        with self._lock:
            account = self.accounts.get(account_id)
            if account is None:
                raise KeyError(f"No such account: {account_id}")
            account.update(
                charges_enabled=charges_enabled, details_submitted=details_submitted, payouts_enabled=payouts_enabled
            )
            status = "active" if charges_enabled else ("pending" if details_submitted else "inactive")
            account["capabilities"] = dict.fromkeys(account["capabilities"], status)
            account["requirements"] = self._requirements(done=details_submitted and charges_enabled)
            return copy.deepcopy(account)

    # ------------------------------------------------------------------ events

    def event(
        self,
        type: str,
        obj: JSON,
        *,
        account: str | None = None,
        event_id: str | None = None,
        created: int | None = None,
        previous_attributes: JSON | None = None,
    ) -> JSON:
        """A Stripe event carrying ``obj`` (``account`` set for Connect events)."""
        event: JSON = {
            "id": event_id or _new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": _now() if created is None else created,
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type,
        }
        if previous_attributes is not None:
            event["data"]["previous_attributes"] = copy.deepcopy(previous_attributes)
        if account is not None:
            event["account"] = account
        return event

    def signed(self, event: JSON, secret: str, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
        """The raw body and headers Stripe would POST to a webhook endpoint for ``event``."""
        body = json.dumps(event).encode("utf-8")
        headers = {"Content-Type": "application/json", "Stripe-Signature": sign_payload(body, secret, timestamp)}
        return body, headers

    # ------------------------------------------------------------------ HTTP plumbing

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self._respond(request)
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        headers = {
            name: request.headers[name]
            for name in ("Idempotency-Key", "Stripe-Account", "Stripe-Version")
            if name in request.headers
        }
        try:
            params = decode_params(request.query_string.decode("latin-1"))
            if request.method == "POST":
                params.update(decode_params(request.get_data(as_text=True)))
            decode_error = None
        except ValueError as e:
            params, decode_error = {}, _ApiError(400, str(e))
        with self._lock:
            self.requests.append(RecordedRequest(request.method, request.path, copy.deepcopy(params), headers))
            if not request.path.startswith("/v1/"):
                return self._hosted_page(request.path)
            if self._failures and request.path.startswith(self._failures[0].path_prefix):
                failure = self._failures.pop(0)
                return self._json(failure.status, _ApiError(failure.status, failure.message, type=failure.type).body)
            try:
                self._authenticate(request.headers.get("Authorization", ""))
                if decode_error is not None:
                    raise decode_error
                key = headers.get("Idempotency-Key") if request.method == "POST" else None
                if key is not None:
                    replay = self._replay((headers.get("Stripe-Account"), key), request.method, request.path, params)
                    if replay is not None:
                        return replay
                self._acting_account = headers.get("Stripe-Account")
                body = self._dispatch(request.method, request.path, params)
            except _ApiError as e:
                return self._json(e.status, e.body)
            except Exception as e:  # a bug in the fake: answer like Stripe would, keep it for the test
                self.errors.append(e)
                return self._json(500, _ApiError(500, f"Fake Stripe crashed: {e!r}", type="api_error").body)
            text = json.dumps(body)
            if key is not None:
                stored = _Stored(request.method, request.path, copy.deepcopy(params), 200, text)
                self._idempotent[(headers.get("Stripe-Account"), key)] = stored
            return self._json(200, text)

    def _authenticate(self, authorization: str) -> None:
        if not authorization:
            raise _ApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        scheme, _, key = authorization.partition(" ")
        if scheme != "Bearer" or not key.startswith(("sk_", "rk_")):
            shown = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:] if len(key) > 12 else key
            raise _ApiError(401, f"Invalid API Key provided: {shown}", code="api_key_invalid")

    def _replay(self, slot: tuple[str | None, str], method: str, path: str, params: JSON) -> Response | None:
        stored = self._idempotent.get(slot)
        if stored is None:
            return None
        key = slot[1]
        if (stored.method, stored.path) != (method, path):
            raise _ApiError(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were first used for "
                f"('{stored.method} {stored.path}' vs '{method} {path}'). Try using a key other than '{key}' "
                "if you meant to execute a different request.",
                type="idempotency_error",
            )
        if stored.params != params:
            raise _ApiError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they were first used "
                f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                type="idempotency_error",
            )
        response = self._json(stored.status, stored.body)
        response.headers["Idempotent-Replayed"] = "true"
        return response

    def _dispatch(self, method: str, path: str, params: JSON) -> JSON:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                body = handler(params, *match.groups())
                return self._expand(body, params.get("expand"))
        raise _ApiError(404, f"Unrecognized request URL ({method}: {path}).")

    @staticmethod
    def _json(status: int, body: JSON | str) -> Response:
        text = body if isinstance(body, str) else json.dumps(body)
        return Response(
            text,
            status=status,
            mimetype="application/json",
            headers={"Request-Id": _new_id("req_", 7), "Stripe-Version": API_VERSION},
        )

    def _hosted_page(self, path: str) -> Response:
        match = re.fullmatch(r"/(pay|onboard|invoice|portal)/([^/]+)", path)
        if match is None:
            return Response("Not found", status=404, mimetype="text/plain")
        title = {"pay": "Checkout", "onboard": "Connect onboarding", "invoice": "Invoice", "portal": "Customer portal"}[
            match.group(1)
        ]
        page = f"<!doctype html><title>Fake Stripe {title}</title><h1>Fake Stripe {title}</h1>"
        page += f"<p>{html.escape(match.group(2))}</p>"
        return Response(page, mimetype="text/html")

    # ------------------------------------------------------------------ expansion

    def _lookup(self, object_id: str) -> JSON | None:
        for store in (
            self.sessions,
            self.payment_intents,
            self.charges,
            self.balance_transactions,
            self.refunds,
            self.accounts,
            self.disputes,
            self.coupons,
            *self._billing_stores(),
            *self._tax_stores(),
            *self._fee_stores(),
        ):
            if object_id in store:
                return store[object_id]
        return None

    def _expand(self, body: JSON, expand: Any) -> JSON:
        """Replace ids by objects along each dotted path in ``expand``."""
        if expand is None or expand == "":
            return copy.deepcopy(body)
        paths = [expand] if isinstance(expand, str) else expand
        if not isinstance(paths, list):
            raise _ApiError(400, "Invalid array", param="expand")
        result = copy.deepcopy(body)
        for dotted in paths:
            steps = str(dotted).split(".")
            if len(steps) > 4:
                raise _ApiError(400, f"You cannot expand more than 4 levels of a property. Property: {dotted}")
            node: Any = result
            for step in steps:
                if not isinstance(node, dict) or step not in node:
                    raise _ApiError(400, f"This property cannot be expanded ({step}).", param="expand")
                value = node[step]
                if isinstance(value, str):
                    found = self._lookup(value)
                    if found is None:
                        break
                    value = node[step] = copy.deepcopy(found)
                if value is None:
                    break
                node = value
        return result

    # ------------------------------------------------------------------ endpoints

    def _session(self, session_id: str) -> JSON:
        session = self.sessions.get(session_id)
        if session is None:
            raise KeyError(f"No such checkout.session: {session_id}")
        return session

    def _create_session(self, params: JSON) -> JSON:
        mode = params.get("mode")
        if not mode:
            raise _missing("mode")
        _one_of(mode, "mode", ("payment", "setup", "subscription"))
        items, currency, tax_codes = self._session_line_items(params, required=mode != "setup")
        now = _now()
        expires_at = _int(params.get("expires_at"), "expires_at")
        if expires_at is None:
            expires_at = now + MAX_EXPIRY
        elif expires_at - now < MIN_EXPIRY - EXPIRY_SLACK:
            raise _ApiError(
                400,
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
                param="expires_at",
            )
        elif expires_at - now > MAX_EXPIRY:
            raise _ApiError(
                400,
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
                param="expires_at",
            )
        if mode == "subscription":
            subscription_data = self._subscription_data(params)
            self._recurring_items(items, params["line_items"])
            pi_data: JSON = {}
        else:
            pi_data = self._payment_intent_data(params.get("payment_intent_data"))
        automatic_tax, tax_id_collection, tax_behaviors = self._session_tax(params, items)
        session_id = _new_id("cs_test_", 24)
        subtotal = sum(item["amount_total"] for item in items)
        allow_codes = _bool(params.get("allow_promotion_codes"), "allow_promotion_codes")
        coupon = self._session_coupon(params.get("discounts"), allow_codes, currency)
        discount = self._coupon_discount(coupon, subtotal) if coupon else 0
        payment_method_types = params.get("payment_method_types") or ["card"]
        session: JSON = {
            "id": session_id,
            "object": "checkout.session",
            "allow_promotion_codes": allow_codes,
            "amount_subtotal": subtotal,
            "amount_total": subtotal - discount,
            # Tax is known once the buyer gives an address on the payment page (complete_session).
            "automatic_tax": self._session_automatic_tax(automatic_tax),
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency or (str(params["currency"]).lower() if params.get("currency") else None),
            "customer": params.get("customer"),
            "customer_details": None,
            "customer_email": params.get("customer_email"),
            "currency_conversion": None,
            "discounts": [{"coupon": coupon["id"], "promotion_code": None}] if coupon else [],
            "expires_at": expires_at,
            "livemode": False,
            "locale": params.get("locale"),
            "metadata": _dict(params.get("metadata"), "metadata"),
            "mode": mode,
            "payment_intent": None,
            "payment_method_types": payment_method_types,
            "payment_status": "unpaid" if mode != "setup" else "no_payment_required",
            "status": "open",
            "submit_type": params.get("submit_type"),
            "success_url": params.get("success_url"),
            "tax_id_collection": tax_id_collection,
            "total_details": {"amount_discount": discount, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": params.get("ui_mode") or "hosted",
            "url": f"{self.url}/pay/{session_id}",
        }
        self.sessions[session_id] = session
        self._session_extras[session_id] = {
            "payment_intent_data": pi_data,
            "line_items": items,
            "tax_behaviors": tax_behaviors,
            "tax_codes": tax_codes,
            "total_taxes": [],
        }
        if mode == "subscription":
            self._session_extras[session_id]["subscription_data"] = subscription_data
            session.update(subscription=None, invoice=None)
        return session

    def _session_line_items(self, params: JSON, *, required: bool) -> tuple[list[JSON], str | None, list[str | None]]:
        """The session's line items as Stripe's ``item`` objects, their currency, and their products' tax codes."""
        raw = params.get("line_items")
        if not raw:
            if required:
                raise _missing("line_items")
            return [], None, []
        if not isinstance(raw, list):
            raise _ApiError(400, "Invalid array", param="line_items")
        items: list[JSON] = []
        tax_codes: list[str | None] = []
        currencies: set[str] = set()
        for i, item in enumerate(raw):
            name = f"line_items[{i}]"
            if not isinstance(item, dict):
                raise _ApiError(400, "Invalid object", param=name)
            if item.get("price"):
                raise _no_such("price", str(item["price"]), param=f"{name}[price]", status=400)
            price_data = item.get("price_data")
            if not isinstance(price_data, dict):
                raise _missing(f"{name}[price_data]")
            if not price_data.get("currency"):
                raise _missing(f"{name}[price_data][currency]")
            currency = str(price_data["currency"]).lower()
            unit_amount = _required_int(price_data.get("unit_amount"), f"{name}[price_data][unit_amount]", minimum=0)
            quantity = _required_int(item.get("quantity"), f"{name}[quantity]", minimum=1)
            product_data = _dict(price_data.get("product_data"), f"{name}[price_data][product_data]")
            if not product_data.get("name") and not price_data.get("product"):
                raise _missing(f"{name}[price_data][product_data][name]")
            behavior = price_data.get("tax_behavior") or "unspecified"
            _one_of(behavior, f"{name}[price_data][tax_behavior]", ("inclusive", "exclusive", "unspecified"))
            tax_code = product_data.get("tax_code")
            if tax_code:
                tax_code = self._tax_code(tax_code, f"{name}[price_data][product_data][tax_code]")
            currencies.add(currency)
            tax_codes.append(tax_code or None)
            items.append(
                {
                    "id": _new_id("li_"),
                    "object": "item",
                    "amount_subtotal": unit_amount * quantity,
                    "amount_total": unit_amount * quantity,
                    "currency": currency,
                    "description": product_data.get("name"),
                    "quantity": quantity,
                    "price": {
                        "id": _new_id("price_"),
                        "object": "price",
                        "currency": currency,
                        "unit_amount": unit_amount,
                        "product": price_data.get("product") or _new_id("prod_", 7),
                        "tax_behavior": behavior,
                        "type": "one_time",
                    },
                }
            )
        if len(currencies) > 1:
            raise _ApiError(400, "All line items must have the same currency.", param="line_items")
        return items, currencies.pop(), tax_codes

    def _payment_intent_data(self, raw: Any) -> JSON:
        data = copy.deepcopy(_dict(raw, "payment_intent_data"))
        fee = _int(data.get("application_fee_amount"), "payment_intent_data[application_fee_amount]", minimum=0)
        if fee is not None:
            data["application_fee_amount"] = fee
        transfer = _dict(data.get("transfer_data"), "payment_intent_data[transfer_data]")
        if transfer:
            destination = transfer.get("destination")
            if not destination:
                raise _missing("payment_intent_data[transfer_data][destination]")
            if destination not in self.accounts:
                param = "payment_intent_data[transfer_data][destination]"
                raise _no_such("destination", destination, param=param, status=400)
            amount = _int(transfer.get("amount"), "payment_intent_data[transfer_data][amount]", minimum=0)
            if amount is not None:
                transfer["amount"] = amount
        data["metadata"] = _dict(data.get("metadata"), "payment_intent_data[metadata]")
        if "on_behalf_of" in data:
            data["on_behalf_of"] = self._known_account(data["on_behalf_of"], "payment_intent_data[on_behalf_of]")
        return data

    def _session_coupon(self, raw: Any, allow_codes: bool | None, currency: str | None) -> JSON | None:
        """The coupon a session's ``discounts`` names (Stripe takes one), checked as Stripe checks it."""
        if raw is None or raw == "":
            return None
        if allow_codes:
            raise _ApiError(400, "You may only specify one of these parameters: allow_promotion_codes, discounts.")
        if not isinstance(raw, list) or not all(isinstance(d, dict) for d in raw):
            raise _ApiError(400, "Invalid array", param="discounts")
        if len(raw) > 1:
            raise _ApiError(400, "You may only apply one discount to a Checkout Session.", param="discounts")
        if not raw:
            return None
        entry = raw[0]
        if entry.get("promotion_code"):
            raise _no_such(
                "promotion_code", str(entry["promotion_code"]), param="discounts[0][promotion_code]", status=400
            )
        coupon_id = entry.get("coupon")
        if not coupon_id:
            raise _missing("discounts[0][coupon]")
        coupon = self.coupons.get(str(coupon_id))
        if coupon is None:
            raise _no_such("coupon", str(coupon_id), param="discounts[0][coupon]", status=400)
        if not coupon["valid"]:
            raise _ApiError(400, f"Coupon {coupon_id} is no longer valid.", code="coupon_expired", param="discounts")
        if coupon["amount_off"] is not None and coupon["currency"] != currency:
            raise _ApiError(
                400,
                f"The currency of coupon {coupon_id} ({coupon['currency']}) doesn't match the session's ({currency}).",
                param="discounts[0][coupon]",
            )
        return coupon

    @staticmethod
    def _coupon_discount(coupon: JSON, subtotal: int) -> int:
        """What a coupon takes off a subtotal: its amount (down to zero) or its percentage, rounded half up."""
        if coupon["amount_off"] is not None:
            return min(coupon["amount_off"], subtotal)
        off = (Decimal(subtotal) * Decimal(str(coupon["percent_off"])) / 100).quantize(Decimal(1), ROUND_HALF_UP)
        return min(int(off), subtotal)

    def _redeem(self, session: JSON) -> None:
        """A completed session uses its coupon once; one used as often as it allows is no longer valid."""
        for discount in session["discounts"]:
            coupon = self.coupons.get(discount.get("coupon") or "")
            if coupon is None:
                continue
            coupon["times_redeemed"] += 1
            if coupon["max_redemptions"] is not None and coupon["times_redeemed"] >= coupon["max_redemptions"]:
                coupon["valid"] = False

    def _create_coupon(self, params: JSON) -> JSON:
        amount_off = _int(params.get("amount_off"), "amount_off", minimum=1)
        percent = params.get("percent_off")
        if (amount_off is None) == (percent in (None, "")):
            raise _ApiError(400, "You must pass exactly one of amount_off or percent_off.")
        percent_off: float | None = None
        if amount_off is None:
            try:
                percent_off = float(percent)
            except (TypeError, ValueError):
                raise _ApiError(400, f"Invalid decimal: {percent}", param="percent_off") from None
            if not 0 < percent_off <= 100:
                raise _ApiError(400, "percent_off must be greater than 0 and at most 100.", param="percent_off")
        currency = str(params["currency"]).lower() if params.get("currency") else None
        if amount_off is not None and currency is None:
            raise _missing("currency")
        duration = _one_of(params.get("duration") or "once", "duration", ("once", "repeating", "forever"))
        months = _int(params.get("duration_in_months"), "duration_in_months", minimum=1)
        if duration == "repeating" and months is None:
            raise _missing("duration_in_months")
        name = params.get("name")
        if name is not None and len(str(name)) > 40:
            raise _ApiError(400, "Invalid string: name must be at most 40 characters.", param="name")
        coupon_id = str(params.get("id") or secrets.token_urlsafe(6).upper().replace("-", "X").replace("_", "Y"))
        if coupon_id in self.coupons:
            raise _ApiError(400, "Coupon already exists.", code="resource_already_exists", param="id")
        coupon: JSON = {
            "id": coupon_id,
            "object": "coupon",
            "amount_off": amount_off,
            "created": _now(),
            "currency": currency,
            "duration": duration,
            "duration_in_months": months if duration == "repeating" else None,
            "livemode": False,
            "max_redemptions": _int(params.get("max_redemptions"), "max_redemptions", minimum=1),
            "metadata": _dict(params.get("metadata"), "metadata"),
            "name": name,
            "percent_off": percent_off,
            "redeem_by": _int(params.get("redeem_by"), "redeem_by"),
            "times_redeemed": 0,
            "valid": True,
        }
        self.coupons[coupon_id] = coupon
        return coupon

    def _delete_coupon(self, params: JSON, coupon_id: str) -> JSON:
        """Deleting a coupon stops new redemptions; a session already made with it keeps its discount."""
        if self.coupons.pop(coupon_id, None) is None:
            raise _no_such("coupon", coupon_id)
        return {"id": coupon_id, "object": "coupon", "deleted": True}

    def _get_coupon(self, params: JSON, coupon_id: str) -> JSON:
        coupon = self.coupons.get(coupon_id)
        if coupon is None:
            raise _no_such("coupon", coupon_id)
        return coupon

    def _get_session(self, params: JSON, session_id: str) -> JSON:
        session = self.sessions.get(session_id)
        if session is None:
            raise _no_such("checkout.session", session_id)
        return session

    def _expire_session(self, params: JSON, session_id: str) -> JSON:
        session = self._get_session(params, session_id)
        if session["status"] != "open":
            raise _ApiError(400, 'Only Checkout Sessions with a status in ["open"] can be expired.')
        session.update(status="expired", url=None)
        return session

    def _get_payment_intent(self, params: JSON, intent_id: str) -> JSON:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise _no_such("payment_intent", intent_id)
        return intent

    def _get_charge(self, params: JSON, charge_id: str) -> JSON:
        if charge_id not in self.charges:
            raise _no_such("charge", charge_id)
        expand = params.get("expand") or []
        return self.charge(charge_id, with_refunds="refunds" in (expand if isinstance(expand, list) else [expand]))

    def _get_balance_transaction(self, params: JSON, txn_id: str) -> JSON:
        txn = self.balance_transactions.get(txn_id)
        if txn is None:
            raise _no_such("balance_transaction", txn_id)
        return txn

    def _create_refund(self, params: JSON) -> JSON:
        intent_id, charge_id = params.get("payment_intent"), params.get("charge")
        if not intent_id and not charge_id:
            raise _ApiError(
                400, "One of the following params should be provided for this request: payment_intent or charge."
            )
        intent = None
        if intent_id:
            intent = self.payment_intents.get(intent_id)
            if intent is None:
                raise _no_such("payment_intent", intent_id, param="payment_intent", status=400)
        if charge_id and charge_id not in self.charges:
            raise _no_such("charge", charge_id, param="charge", status=400)
        reason = params.get("reason")
        if reason:
            _one_of(reason, "reason", ("duplicate", "fraudulent", "requested_by_customer"))
        amount = _int(params.get("amount"), "amount", minimum=1)
        options = {
            "metadata": _dict(params.get("metadata"), "metadata"),
            "reason": reason or None,
            "reverse_transfer": _bool(params.get("reverse_transfer"), "reverse_transfer"),
            "refund_application_fee": _bool(params.get("refund_application_fee"), "refund_application_fee"),
        }
        return self._refund(intent, charge_id, amount, options, self._new_refund_status)

    def _list_refunds(self, params: JSON) -> JSON:
        """Refunds newest first, of one charge or PaymentIntent when asked (no pagination: every one fits)."""
        charge_id, intent_id = params.get("charge"), params.get("payment_intent")
        refunds = [
            r
            for r in self.refunds.values()
            if (not charge_id or r["charge"] == charge_id) and (not intent_id or r["payment_intent"] == intent_id)
        ]
        return self._list(sorted(refunds, key=lambda r: r["created"], reverse=True), "/v1/refunds")

    @staticmethod
    def _list(items: list[JSON], url: str) -> JSON:
        return {"object": "list", "data": copy.deepcopy(items), "has_more": False, "url": url}

    def _get_refund(self, params: JSON, refund_id: str) -> JSON:
        refund = self.refunds.get(refund_id)
        if refund is None:
            raise _no_such("refund", refund_id)
        return refund

    def _get_dispute(self, params: JSON, dispute_id: str) -> JSON:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            raise _no_such("dispute", dispute_id)
        return dispute

    def _refund(
        self, intent: JSON | None, charge_id: str | None, amount: int | None, options: JSON, status: str = "succeeded"
    ) -> JSON:
        """Refund ``amount`` (default: the rest) of a charge, found directly or through its PaymentIntent."""
        if intent is not None:
            if intent["latest_charge"] is None:
                raise _ApiError(
                    400,
                    f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                    param="payment_intent",
                )
            if charge_id and charge_id != intent["latest_charge"]:
                raise _ApiError(400, f"Charge {charge_id} does not belong to PaymentIntent {intent['id']}.")
            charge_id = intent["latest_charge"]
        if charge_id is None:
            raise _missing("charge")
        charge = self.charges[charge_id]
        left = charge["amount"] - charge["amount_refunded"]
        if left == 0:
            raise _ApiError(400, f"Charge {charge_id} has already been refunded.", code="charge_already_refunded")
        amount = left if amount is None else amount
        if amount > left:
            currency = charge["currency"]
            raise _ApiError(
                400,
                f"Refund amount ({_money(amount, currency)}) is greater than unrefunded amount on charge "
                f"({_money(left, currency)})",
                code="amount_too_large",
                param="amount",
            )
        now = _now()
        refund_id = _new_id("re_")
        settled = self.balance_transactions[charge["balance_transaction"]]
        rate = None if settled["exchange_rate"] is None else str(1 / Decimal(str(settled["exchange_rate"])))
        txn = self._new_balance_transaction(
            -amount, charge["currency"], refund_id, "refund", fee=0, settlement=(settled["currency"], rate)
        )
        reverse = bool(options.get("reverse_transfer")) and charge.get("transfer_data") is not None
        refund: JSON = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "balance_transaction": txn["id"],
            "charge": charge_id,
            "created": now,
            "currency": charge["currency"],
            "metadata": dict(options.get("metadata") or {}),
            "payment_intent": charge["payment_intent"],
            "reason": options.get("reason"),
            "status": status,
            "transfer_reversal": _new_id("trr_") if reverse else None,
        }
        self.refunds[refund_id] = refund
        # As at Stripe, a refund counts in the charge's amount_refunded from the moment it is created,
        # while still pending; one that fails or is canceled is taken out of it again.
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        if options.get("refund_application_fee"):
            self._return_fee(charge, amount, left)
        return refund

    def _create_account(self, params: JSON) -> JSON:
        if params.get("type"):
            _one_of(params["type"], "type", ("custom", "express", "standard"))
        return self._new_account(params)

    def _new_account(self, params: JSON, *, account_id: str | None = None) -> JSON:
        country = str(params.get("country") or "US").upper()
        capabilities = _dict(params.get("capabilities"), "capabilities")
        account: JSON = {
            "id": account_id or _new_id("acct_", 8),
            "object": "account",
            "business_type": params.get("business_type"),
            "capabilities": dict.fromkeys(capabilities, "inactive"),
            "charges_enabled": False,
            "country": country,
            "created": _now(),
            "default_currency": params.get("default_currency") or _DEFAULT_CURRENCY.get(country, "usd"),
            "details_submitted": False,
            "email": params.get("email"),
            "metadata": _dict(params.get("metadata"), "metadata"),
            "payouts_enabled": False,
            "requirements": self._requirements(done=False),
            "type": params.get("type") or "standard",
        }
        self.accounts[account["id"]] = account
        return account

    @staticmethod
    def _requirements(*, done: bool) -> JSON:
        due = [] if done else ["business_profile.url", "external_account", "tos_acceptance.date"]
        return {
            "currently_due": list(due),
            "eventually_due": list(due),
            "past_due": list(due),
            "pending_verification": [],
            "disabled_reason": None if done else "requirements.past_due",
            "errors": [],
        }

    def _get_account(self, params: JSON, account_id: str) -> JSON:
        account = self.accounts.get(account_id)
        if account is None:
            raise _no_such("account", account_id)
        return account

    def _create_account_link(self, params: JSON) -> JSON:
        account_id = params.get("account")
        if not account_id:
            raise _missing("account")
        if not params.get("type"):
            raise _missing("type")
        _one_of(params["type"], "type", ("account_onboarding", "account_update"))
        if account_id not in self.accounts:
            raise _no_such("account", account_id, param="account", status=400)
        now = _now()
        link: JSON = {
            "object": "account_link",
            "created": now,
            "expires_at": now + 300,
            "url": f"{self.url}/onboard/{account_id}",
        }
        self.account_links.append(
            {
                **link,
                "account": account_id,
                "type": params["type"],
                "refresh_url": params.get("refresh_url"),
                "return_url": params.get("return_url"),
            }
        )
        return link

    # ------------------------------------------------------------------ money movement

    def _new_balance_transaction(
        self,
        amount: int,
        currency: str,
        source: str,
        kind: str,
        *,
        fee: int | None,
        settlement: tuple[str | None, str | None] = (None, None),
    ) -> JSON:
        """The balance movement of ``amount`` (in ``currency``), settled in ``settlement`` (currency, rate) if given.

        ``fee`` is in minor units of the settlement currency (None: Stripe's card rate on the settled amount).
        """
        now = _now()
        rate = None
        if settlement[0] is not None and settlement[0] != currency:
            rate = Decimal(settlement[1] or "1")
            amount = _convert(amount, currency, settlement[0], rate)
            currency = settlement[0]
        if fee is None:
            fee = _stripe_fee(amount)
        txn: JSON = {
            "id": _new_id("txn_"),
            "object": "balance_transaction",
            "amount": amount,
            "available_on": now + 2 * 86400,
            "created": now,
            "currency": currency,
            "description": None,
            "exchange_rate": float(rate) if rate is not None else None,
            "fee": fee,
            "fee_details": [
                {
                    "amount": fee,
                    "application": None,
                    "currency": currency,
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ]
            if fee
            else [],
            "net": amount - fee,
            "reporting_category": kind,
            "source": source,
            "status": "pending",
            "type": kind,
        }
        self.balance_transactions[txn["id"]] = txn
        return txn

    def _succeed(self, session: JSON, intent: JSON, fee: int | None) -> None:
        """The money arrives: a Charge and its BalanceTransaction; the PaymentIntent succeeds."""
        amount, currency = intent["amount"], intent["currency"]
        charge_id = _new_id("ch_")
        txn = self._new_balance_transaction(
            amount,
            currency,
            charge_id,
            "charge",
            fee=fee,
            settlement=self._settlements.get(session["id"], (None, None)),
        )
        requested_fee = intent["application_fee_amount"]
        self.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "application_fee": None,
            # The fee asked for at session creation, capped at what was captured (a promotion code can go below it).
            "application_fee_amount": None if requested_fee is None else min(requested_fee, amount),
            "balance_transaction": txn["id"],
            "billing_details": {"email": session["customer_email"], "name": None},
            "captured": True,
            "created": _now(),
            "currency": currency,
            "disputed": False,
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "paid": True,
            "payment_intent": intent["id"],
            "receipt_email": session["customer_email"],
            "refunded": False,
            "status": "succeeded",
            "transfer_data": copy.deepcopy(intent["transfer_data"]),
            "transfer_group": intent["transfer_group"],
        }
        self.charges[charge_id]["application_fee"] = self._collect_fee(self.charges[charge_id])
        intent.update(status="succeeded", amount_received=amount, latest_charge=charge_id, last_payment_error=None)
        session["payment_status"] = "paid"
