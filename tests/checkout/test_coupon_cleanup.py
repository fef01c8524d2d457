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


def discounted_checkout(web, webhooks, offering):
    """A learner presses Buy with a 10 % code in Stripe mode; (their pending order, its Stripe coupon, its session)."""
    CouponFactory(creator=offering.creator, code="LATER", percent_off=10)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, offering, coupon="LATER")
    (order,) = orders_of(learner)
    (coupon_id,) = webhooks.fake.coupons
    (session,) = webhooks.fake.sessions.values()
    return order, coupon_id, session


def _run_coupon_jobs():
    for job in db.session.query(Job).filter_by(kind="payments.delete_coupon").all():
        if job.status is JobStatus.PENDING:
            run_job(job.id)


def test_a_suspension_whose_expire_call_failed_leaves_the_open_sessions_coupon(web, webhooks, connected_offering):
    order, coupon_id, session = discounted_checkout(web, webhooks, connected_offering)

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
    order, coupon_id, session = discounted_checkout(web, webhooks, connected_offering)
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


def test_a_lapsed_checkouts_stripe_coupon_is_removed_off_the_request(client, web, webhooks, connected_offering):
    order, coupon_id, _ = discounted_checkout(web, webhooks, connected_offering)

    answer = client.get(f"/checkout/cancel?order={order.id}")

    assert answer.status_code == 302 and "coupon=LATER" in answer.headers["Location"]
    (job,) = db.session.query(Job).filter_by(kind="payments.delete_coupon").all()
    if job.status is JobStatus.PENDING:  # the runner in this test's transaction leaves it queued
        assert run_job(job.id).status is JobStatus.DONE
    db.session.refresh(job)
    assert job.status is JobStatus.DONE and job.result == {"deleted": True}
    assert coupon_id not in webhooks.fake.coupons
    assert [r.path for r in webhooks.fake.find_requests("DELETE")] == [f"/v1/coupons/{coupon_id}"]
