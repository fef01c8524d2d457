"""Stripe's webhook: signatures, the event ledger, and every event we act on, in any order."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import sqlalchemy as sa

from courseplatform.checkout.services import refund_order
from courseplatform.extensions import db
from courseplatform.integrations.mail import deliver_committed
from courseplatform.models import (
    Enrollment,
    EnrollmentStatus,
    LiveSession,
    OfferingKind,
    Order,
    OrderStatus,
    ProviderEvent,
    Refund,
    WaitlistEntry,
    utcnow,
)

from ..factories import PASSWORD, CreatorProfileFactory, OfferingFactory, UserFactory
from .conftest import opened_before_coupons


def checkout(web, offering) -> Order:
    """A new learner logs in and presses Buy; returns their pending order (with its Stripe session)."""
    web.login(UserFactory().email, PASSWORD)
    url = f"/courses/{offering.slug}"
    response = web.submit(f"{url}/checkout", {}, form_url=url, follow_redirects=False)
    assert response.status_code == 303, response.headers.get("Location")
    db.session.expire_all()
    return db.session.scalars(sa.select(Order).order_by(Order.id.desc())).first()


def fresh(order: Order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


def access_of(order: Order) -> EnrollmentStatus | None:
    db.session.expire_all()
    enrollment = db.session.scalar(
        sa.select(Enrollment).filter_by(user_id=order.learner_id, offering_id=order.offering_id)
    )
    return enrollment.status if enrollment else None


def enrollment_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Enrollment.id)))


def paid_order(web, webhooks, offering) -> Order:
    order = checkout(web, offering)
    web.logout()
    webhooks.send("checkout.session.completed", webhooks.fake.complete_session(order.checkout_id))
    order = fresh(order)
    assert order.status is OrderStatus.PAID
    return order


# ---------------------------------------------------------------------------
# Signatures and the ledger
# ---------------------------------------------------------------------------


def test_a_bad_signature_is_refused_and_changes_nothing(web, webhooks, connected_offering):
    order = checkout(web, connected_offering)
    event = webhooks.fake.event("checkout.session.completed", webhooks.fake.complete_session(order.checkout_id))

    response = webhooks.deliver(event, secret="whsec_someone_else")

    assert response.status_code == 400
    assert fresh(order).status is OrderStatus.PENDING
    assert db.session.scalar(sa.select(sa.func.count(ProviderEvent.id))) == 0
    assert enrollment_count() == 0


def test_a_stale_timestamp_is_refused(web, webhooks, connected_offering):
    order = checkout(web, connected_offering)
    event = webhooks.fake.event("checkout.session.completed", webhooks.fake.complete_session(order.checkout_id))

    response = webhooks.deliver(event, timestamp=int(time.time()) - 600)

    assert response.status_code == 400
    assert fresh(order).status is OrderStatus.PENDING


def test_a_body_changed_after_signing_is_refused(client, web, webhooks, connected_offering):
    order = checkout(web, connected_offering)
    event = webhooks.fake.event("checkout.session.completed", webhooks.fake.complete_session(order.checkout_id))
    body, headers = webhooks.fake.signed(event, "whsec_test_aqueduct")

    response = client.post("/webhooks/stripe", data=body.replace(b'"paid"', b'"paid" '), headers=headers)

    assert response.status_code == 400
    assert client.post("/webhooks/stripe", data=body).status_code == 400  # no signature at all
    assert fresh(order).status is OrderStatus.PENDING


def test_completion_enrols_once_however_often_it_is_delivered(web, webhooks, connected_offering, mailbox):
    order = checkout(web, connected_offering)
    event = webhooks.fake.event("checkout.session.completed", webhooks.fake.complete_session(order.checkout_id))

    first = webhooks.deliver(event)
    again = webhooks.deliver(event)
    replayed = webhooks.deliver(event)  # a replay from the dashboard carries the same event id

    assert first.json == {"received": True, "outcome": "enrolled"}
    assert again.json["outcome"] == replayed.json["outcome"] == "duplicate"
    assert enrollment_count() == 1
    assert access_of(order) is EnrollmentStatus.ACTIVE
    assert len(mailbox.messages) == 1
    [row] = db.session.scalars(sa.select(ProviderEvent)).all()
    assert (row.event_id, row.type) == (event["id"], "checkout.session.completed")
    assert row.processed_at is not None


def test_unknown_event_types_are_recorded_and_ignored(webhooks):
    _, response = webhooks.send("customer.created", {"id": "cus_1", "object": "customer"})
    assert response.status_code == 200
    assert response.json["outcome"] == "ignored"


# ---------------------------------------------------------------------------
# Refunds
# ---------------------------------------------------------------------------


def test_a_refund_in_the_dashboard_ends_access(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)

    charge = webhooks.fake.refund_outside_app(order.payment_intent_id)
    _, response = webhooks.send("charge.refunded", charge)

    assert response.json["outcome"] == "refund"
    order = fresh(order)
    assert order.status is OrderStatus.REFUNDED
    assert order.refunded_cents == 4900
    assert access_of(order) is EnrollmentStatus.REVOKED
    [refund] = order.refunds
    assert (refund.amount_cents, refund.platform_fee_refunded_cents) == (4900, 490)


def test_a_partial_refund_keeps_access_and_records_the_amount(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)

    webhooks.send("charge.refunded", webhooks.fake.refund_outside_app(order.payment_intent_id, amount=1000))
    webhooks.send("charge.refunded", webhooks.fake.refund_outside_app(order.payment_intent_id, amount=900))

    order = fresh(order)
    assert order.status is OrderStatus.PARTIALLY_REFUNDED
    assert order.refunded_cents == 1900
    assert [r.amount_cents for r in order.refunds] == [1000, 900]
    assert [r.platform_fee_refunded_cents for r in order.refunds] == [100, 90]
    assert access_of(order) is EnrollmentStatus.ACTIVE


def test_a_studio_refund_and_its_webhook_count_once(web, webhooks, connected_offering, mailbox):
    order = paid_order(web, webhooks, connected_offering)
    refund_order(order, 2000, by=connected_offering.creator.user, reason="Changed plans")
    db.session.commit()
    deliver_committed()
    [refund_request] = webhooks.fake.find_requests("POST", "/v1/refunds")
    assert refund_request.params["reverse_transfer"] == "true"
    assert refund_request.params["refund_application_fee"] == "true"
    assert refund_request.params["amount"] == "2000"

    charge = webhooks.fake.charges[fresh(order).charge_id]
    webhooks.send("charge.refunded", charge)

    order = fresh(order)
    assert order.refunded_cents == 2000
    assert len(order.refunds) == 1
    assert order.refunds[0].provider_refund_id == next(iter(webhooks.fake.refunds))
    assert order.status is OrderStatus.PARTIALLY_REFUNDED
    assert access_of(order) is EnrollmentStatus.ACTIVE
    assert "A refund for Grounding skills" in [m["Subject"] for m in mailbox.messages]


def test_a_refund_delivered_before_the_completion_is_applied_after_it(web, webhooks, connected_offering, mailbox):
    order = checkout(web, connected_offering)
    session = webhooks.fake.complete_session(order.checkout_id)
    completed = webhooks.fake.event("checkout.session.completed", session)
    charge = webhooks.fake.refund_outside_app(session["payment_intent"])

    _, early = webhooks.send("charge.refunded", charge)
    assert early.json["outcome"] == "parked"
    assert fresh(order).status is OrderStatus.PENDING

    late = webhooks.deliver(completed)

    assert late.status_code == 200
    order = fresh(order)
    assert order.status is OrderStatus.REFUNDED
    assert order.refunded_cents == 4900
    assert access_of(order) is EnrollmentStatus.REVOKED
    assert (
        db.session.scalar(sa.select(sa.func.count(ProviderEvent.id)).where(ProviderEvent.processed_at.is_(None))) == 0
    )
    assert all("receipt" not in m["Subject"] for m in mailbox.messages)
    # And the success page, reached afterwards, does not bring the access back.
    web.client.get(f"/checkout/success?session_id={order.checkout_id}")
    assert fresh(order).status is OrderStatus.REFUNDED
    assert access_of(order) is EnrollmentStatus.REVOKED


def test_a_late_success_event_never_reactivates_a_refunded_order(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    webhooks.send("charge.refunded", webhooks.fake.refund_outside_app(order.payment_intent_id))

    session = dict(webhooks.fake.sessions[order.checkout_id])
    _, response = webhooks.send("checkout.session.async_payment_succeeded", session)

    assert response.json["outcome"] == "already"
    assert fresh(order).status is OrderStatus.REFUNDED
    assert access_of(order) is EnrollmentStatus.REVOKED
    assert enrollment_count() == 1


# ---------------------------------------------------------------------------
# Disputes
# ---------------------------------------------------------------------------


def test_a_dispute_pauses_access_and_winning_it_gives_it_back(client, web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    dispute = webhooks.fake.open_dispute(order.charge_id)

    webhooks.send("charge.dispute.created", dispute)

    assert fresh(order).status is OrderStatus.DISPUTED
    assert access_of(order) is EnrollmentStatus.SUSPENDED
    lesson = connected_offering.sections[0].lessons[0]
    web.login(fresh(order).learner.email, PASSWORD)
    refused = client.get(f"/learn/{connected_offering.slug}/lessons/{lesson.id}")
    assert refused.status_code == 403 and "Your access is paused" in refused.get_data(as_text=True)

    webhooks.send("charge.dispute.closed", webhooks.fake.close_dispute(dispute["id"], "won"))

    assert fresh(order).status is OrderStatus.PAID
    assert access_of(order) is EnrollmentStatus.ACTIVE
    assert client.get(f"/learn/{connected_offering.slug}/lessons/{lesson.id}").status_code == 200


def test_a_lost_dispute_ends_access_and_counts_as_money_returned(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    dispute = webhooks.fake.open_dispute(order.charge_id)
    webhooks.send("charge.dispute.created", dispute)

    webhooks.send("charge.dispute.closed", webhooks.fake.close_dispute(dispute["id"], "lost"))

    order = fresh(order)
    assert order.status is OrderStatus.REFUNDED
    assert order.refunded_cents == 4900
    assert [r.reason for r in order.refunds] == ["Dispute lost"]
    assert access_of(order) is EnrollmentStatus.REVOKED


def test_a_dispute_delivered_before_the_completion_waits_for_it(web, webhooks, connected_offering):
    order = checkout(web, connected_offering)
    session = webhooks.fake.complete_session(order.checkout_id)
    charge_id = webhooks.fake.payment_intents[session["payment_intent"]]["latest_charge"]
    _, early = webhooks.send("charge.dispute.created", webhooks.fake.open_dispute(charge_id))
    assert early.json["outcome"] == "parked"

    webhooks.send("checkout.session.completed", session)

    assert fresh(order).status is OrderStatus.DISPUTED
    assert access_of(order) is EnrollmentStatus.SUSPENDED


# ---------------------------------------------------------------------------
# Expiry, seats and accounts
# ---------------------------------------------------------------------------


def test_an_expired_checkout_frees_the_seat_and_tells_the_waitlist(web, webhooks, stripe_api, mailbox):
    account = stripe_api.add_account()
    creator = CreatorProfileFactory(stripe_account_id=account["id"], stripe_charges_enabled=True)
    offering = OfferingFactory(
        creator=creator, kind=OfferingKind.LIVE_WORKSHOP, price_cents=12000, title="Couples in crisis"
    )
    db.session.add(
        LiveSession(
            offering=offering,
            starts_at=utcnow().replace(microsecond=0) + __import__("datetime").timedelta(days=3),
            time_zone="UTC",
            capacity=1,
        )
    )
    db.session.add(WaitlistEntry(offering_id=offering.id, email="waiting@example.org"))
    db.session.flush()
    order = checkout(web, offering)
    assert "This workshop is full" in web.client.get(f"/courses/{offering.slug}").get_data(as_text=True)

    _, response = webhooks.send("checkout.session.expired", stripe_api.expire_session(order.checkout_id))

    assert response.json["outcome"] == "expired"
    assert fresh(order).status is OrderStatus.EXPIRED
    [notice] = mailbox.messages
    assert notice["To"] == "waiting@example.org"
    assert notice["Subject"] == "A seat opened in Couples in crisis"
    assert "This workshop is full" not in web.client.get(f"/courses/{offering.slug}").get_data(as_text=True)


def test_a_payment_for_a_full_workshop_is_refunded_automatically(web, webhooks, stripe_api, mailbox):
    account = stripe_api.add_account()
    creator = CreatorProfileFactory(stripe_account_id=account["id"], stripe_charges_enabled=True)
    offering = OfferingFactory(
        creator=creator, kind=OfferingKind.LIVE_WORKSHOP, price_cents=12000, title="Couples in crisis"
    )
    db.session.add(LiveSession(offering=offering, starts_at=utcnow() + timedelta(days=3), time_zone="UTC", capacity=1))
    db.session.flush()
    order = checkout(web, offering)
    # The buyer pays in the last second of the hold; the confirmation arrives after another learner took the seat.
    session = stripe_api.complete_session(order.checkout_id)
    fresh(order).expires_at = utcnow() - timedelta(seconds=1)
    db.session.add(Enrollment(user_id=UserFactory().id, offering_id=offering.id, source="free"))
    db.session.commit()

    _, response = webhooks.send("checkout.session.completed", session)

    assert response.json["outcome"] == "refunded_full"
    order = fresh(order)
    assert order.status is OrderStatus.REFUNDED and order.refunded_cents == 12000
    assert access_of(order) is None
    [stripe_refund] = stripe_api.refunds.values()
    assert stripe_refund["amount"] == 12000
    assert mailbox.messages[-1]["Subject"] == "Couples in crisis filled up: your payment is refunded"
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id)).where(Enrollment.offering_id == offering.id)) == 1


def test_account_updated_keeps_the_creators_status(webhooks, stripe_api):
    account = stripe_api.add_account(charges_enabled=False, details_submitted=False, payouts_enabled=False)
    creator = CreatorProfileFactory(stripe_account_id=account["id"])

    updated = stripe_api.update_account(account["id"], charges_enabled=True, details_submitted=True)
    _, response = webhooks.send("account.updated", updated, account=account["id"])

    assert response.json["outcome"] == "account_updated"
    db.session.expire_all()
    assert (creator.stripe_charges_enabled, creator.stripe_details_submitted, creator.stripe_payouts_enabled) == (
        True,
        True,
        True,
    )


def test_refund_rows_never_exceed_the_order(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    charge = webhooks.fake.refund_outside_app(order.payment_intent_id)
    webhooks.send("charge.refunded", charge)
    webhooks.send("charge.refunded", charge)  # a second event id for the same refund

    total = db.session.scalar(sa.select(sa.func.sum(Refund.amount_cents)).where(Refund.order_id == order.id))
    assert total == 4900


# ---------------------------------------------------------------------------
# Odd but legal deliveries, and a mail server that is down
# ---------------------------------------------------------------------------


def test_a_free_checkout_through_a_100_percent_promotion_code_enrols(web, webhooks, connected_offering):
    order = checkout(web, connected_offering)
    opened_before_coupons(webhooks.fake, order)
    session = webhooks.fake.complete_session(order.checkout_id, discount=4900)
    assert (session["payment_status"], session["payment_intent"]) == ("no_payment_required", None)

    _, response = webhooks.send("checkout.session.completed", session)

    assert response.json["outcome"] == "enrolled"
    order = fresh(order)
    assert (order.status, order.amount_cents, order.processor_fee_cents, order.platform_fee_cents) == (
        OrderStatus.PAID,
        0,
        0,
        0,
    )
    assert access_of(order) is EnrollmentStatus.ACTIVE


def test_a_mail_server_that_is_down_never_undoes_a_payment(app, web, webhooks, connected_offering, mailbox):
    order = checkout(web, connected_offering)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    saved = {key: app.config[key] for key in ("MAIL_BACKEND", "SMTP_HOST", "SMTP_PORT")}
    app.config.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=closed_port)
    try:
        _, response = webhooks.send("checkout.session.completed", webhooks.fake.complete_session(order.checkout_id))
    finally:
        app.config.update(saved)

    assert response.status_code == 200
    assert fresh(order).status is OrderStatus.PAID
    assert access_of(order) is EnrollmentStatus.ACTIVE
    assert mailbox.messages == []


def test_deliveries_signed_by_the_connect_endpoint_are_accepted(app, webhooks, stripe_api):
    account = stripe_api.add_account(charges_enabled=False, details_submitted=False, payouts_enabled=False)
    creator = CreatorProfileFactory(stripe_account_id=account["id"])
    app.config["STRIPE_CONNECT_WEBHOOK_SECRET"] = "whsec_connect_endpoint"
    try:
        event = stripe_api.event("account.updated", stripe_api.update_account(account["id"]), account=account["id"])
        response = webhooks.deliver(event, secret="whsec_connect_endpoint")
    finally:
        app.config["STRIPE_CONNECT_WEBHOOK_SECRET"] = ""
    assert response.json["outcome"] == "account_updated"
    db.session.expire_all()
    assert creator.stripe_charges_enabled is True


def test_charges_on_a_connected_account_are_not_taken_for_our_orders(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    charge = dict(webhooks.fake.charges[order.charge_id], amount_refunded=4900, refunded=True)

    _, response = webhooks.send("charge.refunded", charge, account=connected_offering.creator.stripe_account_id)

    assert response.json["outcome"] == "ignored"
    assert fresh(order).status is OrderStatus.PAID


def test_an_old_account_event_cannot_undo_a_newer_status(webhooks, stripe_api):
    account = stripe_api.add_account(charges_enabled=False, details_submitted=False, payouts_enabled=False)
    creator = CreatorProfileFactory(stripe_account_id=account["id"])
    older = stripe_api.event("account.updated", dict(account), account=account["id"])
    newer = stripe_api.event("account.updated", stripe_api.update_account(account["id"]), account=account["id"])

    webhooks.deliver(newer)
    webhooks.deliver(older)  # delivered late

    db.session.expire_all()
    assert creator.stripe_charges_enabled is True
