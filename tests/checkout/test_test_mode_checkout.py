"""Buying with the built-in test-mode checkout (no Stripe key): the same fulfilment path as Stripe."""

from __future__ import annotations

import html
from datetime import timedelta

import sqlalchemy as sa

from courseplatform.checkout.services import fulfil_order
from courseplatform.extensions import db
from courseplatform.integrations.mail import deliver_committed
from courseplatform.models import (
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    LiveSession,
    OfferingKind,
    Order,
    OrderStatus,
    Refund,
    utcnow,
)

from ..factories import PASSWORD, EnrollmentFactory, LessonFactory, OfferingFactory, SectionFactory, UserFactory
from ..helpers import csrf_token_from


def offering_with_lesson(**kwargs):
    offering = OfferingFactory(**kwargs)
    lesson = LessonFactory(section=SectionFactory(offering=offering), title="Welcome")
    return offering, lesson


def buy(web, offering, **data):
    """Press the buy box's button on the course page; returns the (unfollowed) response."""
    return web.submit(
        f"/courses/{offering.slug}/checkout", data, form_url=f"/courses/{offering.slug}", follow_redirects=False
    )


def orders_of(user) -> list[Order]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Order).where(Order.learner_id == user.id).order_by(Order.id)))


def enrollment_of(user, offering) -> Enrollment | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(Enrollment).filter_by(user_id=user.id, offering_id=offering.id))


def pay(client, order, choice="pay"):
    token = csrf_token_from(client.get(f"/checkout/test/{order.id}").get_data(as_text=True))
    return client.post(f"/checkout/test/{order.id}/{choice}", data={"csrf_token": token})


def test_buying_holds_the_order_then_paying_enrols_and_sends_a_receipt(client, web, mailbox):
    offering, lesson = offering_with_lesson(price_cents=4900, title="Grounding skills")
    learner = UserFactory(name="Ana Ruiz")
    web.login(learner.email, PASSWORD)

    response = buy(web, offering)

    [order] = orders_of(learner)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/checkout/test/{order.id}"
    assert order.status is OrderStatus.PENDING
    assert order.amount_cents == 4900
    assert order.platform_fee_cents == 490  # PLATFORM_FEE_PERCENT = 10
    assert order.expires_at > utcnow() + timedelta(minutes=29)
    page = client.get(f"/checkout/test/{order.id}").get_data(as_text=True)
    assert "Test mode." in page and "No real money moves" in page
    assert "$49" in page
    assert enrollment_of(learner, offering) is None

    paid = pay(client, order)

    assert paid.headers["Location"] == f"/checkout/success?order={order.id}"
    landed = client.get(paid.headers["Location"], follow_redirects=True)
    assert landed.request.path == f"/learn/{offering.slug}"
    assert f'href="/learn/{offering.slug}/lessons/{lesson.id}">Start the course</a>' in landed.get_data(as_text=True)
    assert "You're enrolled in Grounding skills" in html.unescape(landed.get_data(as_text=True))
    enrollment = enrollment_of(learner, offering)
    assert enrollment.source is EnrollmentSource.PURCHASE and enrollment.is_active
    [order] = orders_of(learner)
    assert enrollment.order_id == order.id
    assert order.status is OrderStatus.PAID
    assert order.processor_fee_cents == 172  # 2.9 % + 30¢, estimated
    assert order.processor_fee_estimated is True
    assert order.net_cents == 4900 - 172 - 490
    [receipt] = mailbox.messages
    assert receipt["To"] == learner.email
    assert receipt["Subject"] == "Your receipt for Grounding skills"
    body = mailbox.last_body()
    assert f"Order:     #{order.id}" in body and "$49" in body and "Test mode" in body


def test_declining_charges_nothing_and_enrols_nobody(client, web, mailbox):
    offering, _ = offering_with_lesson(price_cents=4900)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, offering)
    [order] = orders_of(learner)

    response = pay(client, order, "decline")

    assert response.headers["Location"] == f"/courses/{offering.slug}#enrol"
    page = client.get(f"/courses/{offering.slug}").get_data(as_text=True)
    assert "The payment was declined, so nothing was charged." in page
    [order] = orders_of(learner)
    assert order.status is OrderStatus.FAILED
    assert enrollment_of(learner, offering) is None
    assert mailbox.messages == []
    # Paying after declining is refused: the order is closed.
    assert pay(client, order).headers["Location"] == f"/checkout/success?order={order.id}"
    assert orders_of(learner)[0].status is OrderStatus.FAILED
    assert enrollment_of(learner, offering) is None


def test_a_second_press_of_buy_reuses_the_open_checkout(web):
    offering, _ = offering_with_lesson(price_cents=4900)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    first = buy(web, offering)
    second = buy(web, offering)
    assert first.headers["Location"] == second.headers["Location"]
    assert len(orders_of(learner)) == 1


def test_free_offerings_enrol_at_once(web):
    offering, lesson = offering_with_lesson(price_cents=0)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)

    response = buy(web, offering)

    assert response.headers["Location"] == f"/learn/{offering.slug}"
    assert orders_of(learner) == []
    enrollment = enrollment_of(learner, offering)
    assert enrollment.source is EnrollmentSource.FREE and enrollment.is_active
    outline = web.client.get(f"/learn/{offering.slug}").get_data(as_text=True)
    assert f'href="/learn/{offering.slug}/lessons/{lesson.id}">Start the course</a>' in outline


def test_sliding_scale_charges_the_chosen_amount_from_the_minimum(client, web):
    offering, _ = offering_with_lesson(price_cents=7900, sliding_scale_min_cents=3900)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)

    low = buy(web, offering, amount="20")
    assert low.headers["Location"] == f"/courses/{offering.slug}#enrol"
    assert "The lowest amount is $39." in client.get(f"/courses/{offering.slug}").get_data(as_text=True)
    assert orders_of(learner) == []

    buy(web, offering, amount="45.50")
    [order] = orders_of(learner)
    assert order.amount_cents == 4550
    assert order.platform_fee_cents == 455


def test_someone_already_enrolled_is_sent_to_the_course_not_charged(client, web):
    offering, _ = offering_with_lesson(price_cents=4900)
    learner = UserFactory()
    EnrollmentFactory(user=learner, offering=offering)
    web.login(learner.email, PASSWORD)

    response = buy(web, offering)

    assert response.headers["Location"] == f"/learn/{offering.slug}"
    assert orders_of(learner) == []


def test_visitors_are_asked_to_log_in_first(client):
    offering, _ = offering_with_lesson(price_cents=4900)
    page = client.get(f"/courses/{offering.slug}").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(f"/courses/{offering.slug}/checkout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert db.session.scalar(sa.select(sa.func.count(Order.id))) == 0


def test_drafts_archives_and_own_offerings_cannot_be_bought(web, client):
    offering, _ = offering_with_lesson(price_cents=4900)
    web.login(offering.creator.user.email, PASSWORD)
    response = buy(web, offering)
    assert response.headers["Location"] == f"/courses/{offering.slug}#enrol"
    assert "This is your own offering" in html.unescape(client.get(f"/courses/{offering.slug}").get_data(as_text=True))
    assert db.session.scalar(sa.select(sa.func.count(Order.id))) == 0


def test_only_the_buyer_sees_their_test_checkout(client, web):
    offering, _ = offering_with_lesson(price_cents=4900)
    buyer, stranger = UserFactory(), UserFactory()
    web.login(buyer.email, PASSWORD)
    buy(web, offering)
    [order] = orders_of(buyer)
    web.logout()
    web.login(stranger.email, PASSWORD)
    assert client.get(f"/checkout/test/{order.id}").status_code == 404
    assert client.get(f"/checkout/success?order={order.id}").status_code == 404
    assert client.get(f"/account/orders/{order.id}").status_code == 404


def test_an_expired_checkout_cannot_be_paid(client, web):
    offering, _ = offering_with_lesson(price_cents=4900)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, offering)
    [order] = orders_of(learner)
    order.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()

    assert "This checkout expired" in client.get(f"/checkout/test/{order.id}").get_data(as_text=True)
    response = client.post(
        f"/checkout/test/{order.id}/pay",
        data={
            "csrf_token": client.get(f"/courses/{offering.slug}")
            .get_data(as_text=True)
            .split('value="')[1]
            .split('"')[0]
        },
    )
    assert response.headers["Location"] == f"/courses/{offering.slug}#enrol"
    assert orders_of(learner)[0].status is OrderStatus.EXPIRED
    assert enrollment_of(learner, offering) is None


def test_cancelling_closes_the_checkout_and_frees_the_seat(client, web):
    offering, _ = offering_with_lesson(price_cents=4900)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, offering)
    [order] = orders_of(learner)

    response = client.get(f"/checkout/cancel?order={order.id}", follow_redirects=True)

    assert "Checkout cancelled. Nothing was charged." in response.get_data(as_text=True)
    assert orders_of(learner)[0].status is OrderStatus.EXPIRED


# ---------------------------------------------------------------------------
# Live workshops: seats held while paying, never oversold
# ---------------------------------------------------------------------------


def workshop(capacity: int):
    offering, _ = offering_with_lesson(kind=OfferingKind.LIVE_WORKSHOP, price_cents=12000, title="Couples in crisis")
    db.session.add(
        LiveSession(
            offering=offering,
            starts_at=utcnow() + timedelta(days=7),
            time_zone="America/New_York",
            duration_minutes=90,
            capacity=capacity,
        )
    )
    db.session.flush()
    return offering


def test_a_pending_checkout_holds_the_last_seat_until_it_expires(client, web):
    offering = workshop(capacity=1)
    first, second = UserFactory(), UserFactory()
    web.login(first.email, PASSWORD)
    buy(web, offering)
    [held] = orders_of(first)
    web.logout()

    web.login(second.email, PASSWORD)
    page = html.unescape(client.get(f"/courses/{offering.slug}").get_data(as_text=True))
    assert "This workshop is full" in page
    refused = buy(web, offering)
    assert refused.headers["Location"] == f"/courses/{offering.slug}#enrol"
    assert "has just filled up" in html.unescape(client.get(f"/courses/{offering.slug}").get_data(as_text=True))
    assert orders_of(second) == []

    held.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert buy(web, offering).headers["Location"].startswith("/checkout/test/")
    assert len(orders_of(second)) == 1


def test_a_payment_for_a_workshop_that_filled_up_is_refunded_and_the_buyer_told(client, web, mailbox):
    offering = workshop(capacity=1)
    late, quick = UserFactory(), UserFactory()
    web.login(late.email, PASSWORD)
    buy(web, offering)
    [order] = orders_of(late)
    # The hold lapses, someone else takes the seat, then the first payment arrives after all.
    order.expires_at = utcnow() - timedelta(seconds=1)
    EnrollmentFactory(user=quick, offering=offering)
    db.session.commit()

    # The payment was made just before the hold lapsed; its confirmation arrives just after.
    result = fulfil_order(order.id, paid=True, payment_intent_id=f"test_intent_{order.id}")
    db.session.commit()
    deliver_committed()

    assert result.outcome.value == "refunded_full"
    order = orders_of(late)[0]
    assert order.status is OrderStatus.REFUNDED and order.refunded_cents == 12000
    assert enrollment_of(late, offering) is None
    [refund] = db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id)).all()
    assert refund.amount_cents == 12000 and refund.platform_fee_refunded_cents == 1200
    assert mailbox.messages[-1]["Subject"] == "Couples in crisis filled up: your payment is refunded"
    status_page = html.unescape(client.get(f"/checkout/success?order={order.id}").get_data(as_text=True))
    assert "Your payment was refunded" in status_page and "filled up" in status_page


def test_paying_twice_for_the_same_offering_refunds_the_second_payment(client, web, mailbox):
    offering, _ = offering_with_lesson(price_cents=7900, sliding_scale_min_cents=3900)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, offering, amount="40")
    buy(web, offering, amount="50")  # a different amount: a second checkout in another tab
    first, second = orders_of(learner)

    pay(client, first)
    pay(client, second)

    first, second = orders_of(learner)
    assert first.status is OrderStatus.PAID
    assert second.status is OrderStatus.REFUNDED and second.refunded_cents == 5000
    assert enrollment_of(learner, offering).order_id == first.id
    subjects = [m["Subject"] for m in mailbox.messages]
    assert subjects.count(f"Your receipt for {offering.title}") == 1
    assert f"You were already enrolled in {offering.title}: your payment is refunded" in subjects


def test_order_history_lists_orders_with_receipts(client, web):
    offering, _ = offering_with_lesson(price_cents=4900, title="Burnout first aid")
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, offering)
    [order] = orders_of(learner)
    pay(client, order)

    page = html.unescape(client.get("/account/orders").get_data(as_text=True))
    assert "Burnout first aid" in page and "Paid" in page and "$49" in page
    receipt = html.unescape(client.get(f"/account/orders/{order.id}").get_data(as_text=True))
    assert f"Order #{order.id}" in receipt and "Test mode: no real money was taken." in receipt


def test_learn_course_page_is_for_enrolled_learners_only(client, web):
    offering, _ = offering_with_lesson(price_cents=4900)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    assert client.get(f"/learn/{offering.slug}").status_code == 404
    EnrollmentFactory(user=learner, offering=offering, status=EnrollmentStatus.REVOKED)
    ended = client.get(f"/learn/{offering.slug}")
    assert ended.status_code == 403 and "Your access has ended" in ended.get_data(as_text=True)


def test_pressing_buy_again_on_the_last_seat_reuses_my_own_hold(web):
    offering = workshop(capacity=1)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    first = buy(web, offering)
    again = buy(web, offering)
    assert again.headers["Location"] == first.headers["Location"]
    assert len(orders_of(learner)) == 1


def test_mail_goes_out_only_when_the_work_is_committed(app, mailbox):
    from courseplatform.integrations.mail import send_after_commit

    with app.test_request_context():
        send_after_commit("a@example.org", "Rolled back", "never sent")
        db.session.rollback()
        send_after_commit("b@example.org", "Committed", "sent")
        assert mailbox.messages == []
        db.session.commit()
        assert mailbox.messages == [], "delivered after the commit, by the request (or `flask deliver-mail`)"
        deliver_committed()
    assert [m["Subject"] for m in mailbox.messages] == ["Committed"]
