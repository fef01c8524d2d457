"""Two deliveries at the same moment, on PostgreSQL with real commits: one enrollment.

The rest of the suite runs each test inside a rolled-back transaction, which would hide
exactly the race under test. Here a second application gets its own database, built by
the migrations, and is served by a threaded HTTP server; two threads post to it at once.
(These tests must not use the `app` fixture: it binds the shared session to the
rolled-back transaction.)
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from courseplatform.checkout import services
from courseplatform.checkout.services import begin_checkout, open_checkout
from courseplatform.extensions import db
from courseplatform.models import Enrollment, EnrollmentStatus, Order, OrderStatus, ProviderEvent

from ..factories import CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory, UserFactory
from ..helpers import WEBHOOK_SECRET, committed_application

ROUNDS = 5


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory, fake_stripe_server):
    """An application on its own PostgreSQL database whose requests really commit, served over HTTP."""
    with committed_application(
        tmp_path_factory,
        "concurrent",
        STRIPE_SECRET_KEY="sk_test_aqueduct",
        STRIPE_API_BASE=fake_stripe_server.url,
        STRIPE_MAX_RETRIES=0,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    ) as app:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        app.config["LIVE_URL"] = f"http://127.0.0.1:{server.server_port}"
        yield app
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def paid_checkout(app, fake) -> tuple[int, dict]:
    """A committed pending order whose Stripe session the learner has just paid; (order id, session)."""
    with app.test_request_context():
        account = fake.add_account()
        creator = CreatorProfileFactory(stripe_account_id=account["id"], stripe_charges_enabled=True)
        offering = OfferingFactory(creator=creator, price_cents=4900)
        LessonFactory(section=SectionFactory(offering=offering))
        learner = UserFactory()
        db.session.commit()
        order = begin_checkout(learner, offering, 4900)
        db.session.commit()
        open_checkout(order)
        db.session.commit()
        return order.id, fake.complete_session(order.checkout_id)


def post_together(app, fake, events: list[dict]) -> list[tuple[int, dict]]:
    """POST each event from its own thread, released at the same instant."""
    barrier = threading.Barrier(len(events))
    results: list[tuple[int, bytes] | BaseException] = [None] * len(events)  # type: ignore[list-item]

    def deliver(index: int, event: dict) -> None:
        body, headers = fake.signed(event, WEBHOOK_SECRET)
        request = urllib.request.Request(app.config["LIVE_URL"] + "/webhooks/stripe", data=body, headers=headers)
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                results[index] = (response.status, response.read())
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=deliver, args=(i, e)) for i, e in enumerate(events)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures
    return [(status, json.loads(body)) for status, body in results]


def counts(app, order_id: int) -> tuple[OrderStatus, int, int]:
    with app.app_context():
        order = db.session.get(Order, order_id)
        enrollments = db.session.scalar(
            sa.select(sa.func.count(Enrollment.id)).where(Enrollment.offering_id == order.offering_id)
        )
        events = db.session.scalar(sa.select(sa.func.count(ProviderEvent.id)))
        db.session.remove()
        return order.status, enrollments, events


def receipts(app) -> int:
    return sum(
        1 for path in Path(app.config["MAIL_DIR"]).glob("*.eml") if b"Subject: Your receipt" in path.read_bytes()
    )


def test_two_concurrent_deliveries_of_one_event_give_one_enrollment(committed_app, fake_stripe_server):
    before_events = counts(committed_app, paid_checkout(committed_app, fake_stripe_server)[0])[2]
    for _ in range(ROUNDS):
        order_id, session = paid_checkout(committed_app, fake_stripe_server)
        event = fake_stripe_server.event("checkout.session.completed", session)
        before_receipts = receipts(committed_app)

        answers = post_together(committed_app, fake_stripe_server, [event, event])

        assert [status for status, _ in answers] == [200, 200]
        assert sorted(body["outcome"] for _, body in answers) == ["duplicate", "enrolled"]
        status, enrollments, events = counts(committed_app, order_id)
        assert (status, enrollments) == (OrderStatus.PAID, 1)
        assert events == before_events + 1
        before_events = events
        assert receipts(committed_app) == before_receipts + 1


def test_two_different_events_for_one_payment_at_once_give_one_enrollment(committed_app, fake_stripe_server):
    for _ in range(ROUNDS):
        order_id, session = paid_checkout(committed_app, fake_stripe_server)
        completed = fake_stripe_server.event("checkout.session.completed", session)
        succeeded = fake_stripe_server.event("checkout.session.async_payment_succeeded", session)
        before_receipts = receipts(committed_app)

        answers = post_together(committed_app, fake_stripe_server, [completed, succeeded])

        assert sorted(body["outcome"] for _, body in answers) == ["already", "enrolled"]
        status, enrollments, _ = counts(committed_app, order_id)
        assert (status, enrollments) == (OrderStatus.PAID, 1)
        assert receipts(committed_app) == before_receipts + 1


def test_a_refund_delivered_while_its_completion_is_being_recorded_is_not_lost(
    committed_app, fake_stripe_server, monkeypatch
):
    # The refund arrives while the completion is being recorded: after it applied the parked events,
    # before it commits (the receipt is written in between, and waits here a second).
    real_receipt = services._mail_receipt
    recording = threading.Event()

    def slow_receipt(order):
        recording.set()
        time.sleep(1.0)
        real_receipt(order)

    monkeypatch.setattr(services, "_mail_receipt", slow_receipt)
    order_id, session = paid_checkout(committed_app, fake_stripe_server)
    completed = fake_stripe_server.event("checkout.session.completed", session)
    refunded = fake_stripe_server.event(
        "charge.refunded", fake_stripe_server.refund_outside_app(session["payment_intent"])
    )
    outcomes: dict[str, str] = {}

    def deliver(name: str, event: dict, after: threading.Event | None) -> None:
        if after is not None:
            assert after.wait(timeout=20), "the completion was never recorded"
        body, headers = fake_stripe_server.signed(event, WEBHOOK_SECRET)
        request = urllib.request.Request(
            committed_app.config["LIVE_URL"] + "/webhooks/stripe", data=body, headers=headers
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            outcomes[name] = json.loads(response.read())["outcome"]

    threads = [
        threading.Thread(target=deliver, args=("completed", completed, None)),
        threading.Thread(target=deliver, args=("refunded", refunded, recording)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    status, _, _ = counts(committed_app, order_id)
    assert outcomes == {"completed": "enrolled", "refunded": "refund"}
    assert status is OrderStatus.REFUNDED
    with committed_app.app_context():
        active = db.session.scalar(
            sa.select(sa.func.count(Enrollment.id)).where(
                Enrollment.order_id == order_id, Enrollment.status == EnrollmentStatus.ACTIVE
            )
        )
        db.session.remove()
    assert active == 0
