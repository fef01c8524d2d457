"""The lapsed-checkout coupon job deletes only an expired session's coupon, never one that may still be paid."""

from __future__ import annotations

from datetime import timedelta

from courseplatform.checkout.services import withdraw_open_checkouts
from courseplatform.extensions import db
from courseplatform.jobs import run_job
from courseplatform.jobs.scheduled import release_expired_checkouts
from courseplatform.models import Job, JobStatus, OrderStatus, utcnow

from ..factories import PASSWORD, CouponFactory, UserFactory
from .test_stripe_checkout import buy, orders_of


def _run_coupon_jobs():
    for job in db.session.query(Job).filter_by(kind="payments.delete_coupon").all():
        if job.status is JobStatus.PENDING:
            run_job(job.id)


def test_a_suspension_whose_expire_call_failed_leaves_the_open_sessions_coupon(web, webhooks, connected_offering):
    CouponFactory(creator=connected_offering.creator, code="LATER", percent_off=10)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, connected_offering, coupon="LATER")
    (order,) = orders_of(learner)
    (coupon_id,) = webhooks.fake.coupons
    (session,) = webhooks.fake.sessions.values()

    webhooks.fake.go_down()  # Stripe can't expire the session: it stays payable for up to 30 minutes
    withdraw_open_checkouts(connected_offering.creator_id, "The offering was withdrawn before payment.")
    webhooks.fake.come_back()
    db.session.refresh(order)
    assert order.status is OrderStatus.EXPIRED
    _run_coupon_jobs()
    (job,) = db.session.query(Job).filter_by(kind="payments.delete_coupon").all()
    db.session.refresh(job)

    assert webhooks.fake.sessions[session["id"]]["status"] == "open"
    # The session can still be completed, so its coupon must not be removed yet.
    assert coupon_id in webhooks.fake.coupons


def test_the_sweep_does_not_remove_the_coupon_of_a_session_completed_before_its_webhook(
    web, webhooks, connected_offering
):
    CouponFactory(creator=connected_offering.creator, code="LATER", percent_off=10)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, connected_offering, coupon="LATER")
    (order,) = orders_of(learner)
    (coupon_id,) = webhooks.fake.coupons
    (session,) = webhooks.fake.sessions.values()
    paid = webhooks.fake.complete_session(session["id"])  # paid just before the hold ended; webhook late

    order.expires_at = utcnow() - timedelta(minutes=1)
    db.session.flush()
    release_expired_checkouts()
    _run_coupon_jobs()
    webhooks.send("checkout.session.completed", paid)

    db.session.refresh(order)
    assert order.status is OrderStatus.PAID
    # "a paid order's stays, as Stripe's record" (delete_order_coupon_job): the session was complete.
    assert coupon_id in webhooks.fake.coupons
