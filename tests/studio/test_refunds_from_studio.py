"""The creator (or an admin) refunds part or all of a paid order from the learner list."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import EnrollmentSource, EnrollmentStatus, OrderStatus, Refund

from ..factories import (
    PASSWORD,
    CreatorProfileFactory,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    OrderFactory,
    SectionFactory,
    UserFactory,
)
from ..helpers import csrf_token_from


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org", user__name="Maya Chen")
    web.login("maya@example.org", PASSWORD)
    return profile


@pytest.fixture
def offering(creator):
    offering = OfferingFactory(creator=creator, slug="grounding", title="Grounding Skills", price_cents=4900)
    LessonFactory(section=SectionFactory(offering=offering), title="Breathing")
    return offering


@pytest.fixture
def enrollment(offering):
    learner = UserFactory(email="pat@example.org", name="Pat Buyer")
    order = OrderFactory(
        learner=learner,
        offering=offering,
        amount_cents=4900,
        status=OrderStatus.PAID,
        payment_intent_id="pi_test_pat",
        platform_fee_cents=490,
        net_cents=4410,
    )
    return EnrollmentFactory(user=learner, offering=offering, source=EnrollmentSource.PURCHASE, order=order)


def refund_url(offering, order) -> str:
    return f"/studio/courses/{offering.id}/orders/{order.id}/refund"


def refund(web, offering, order, amount: str, reason: str = ""):
    page = web.client.get(refund_url(offering, order)).get_data(as_text=True)
    refunded_before = str(order.refunded_cents)
    return web.client.post(
        refund_url(offering, order),
        data={
            "csrf_token": csrf_token_from(page),
            "amount": amount,
            "reason": reason,
            "refunded_before": refunded_before,
        },
        follow_redirects=True,
    )


def lesson_answer(web, offering):
    """What the learner gets when they open the first lesson now."""
    web.logout()
    web.login("pat@example.org", PASSWORD)
    lesson = offering.sections[0].lessons[0]
    return web.client.get(f"/learn/{offering.slug}/lessons/{lesson.id}").status_code


def test_the_roster_offers_refund_and_the_page_defaults_to_what_is_left(web, client, offering, enrollment):
    roster = client.get(f"/studio/courses/{offering.id}/learners").get_data(as_text=True)
    assert f'href="{refund_url(offering, enrollment.order)}"' in roster
    html = client.get(refund_url(offering, enrollment.order)).get_data(as_text=True)
    assert "Refund Pat Buyer" in html
    assert 'value="49"' in html, "the amount defaults to everything that is left"
    assert "Up to $49. Refunding all of it ends their access; a partial refund keeps it." in html
    assert "Test mode: this order was a test purchase" in html
    assert "None yet." in html


def test_partial_refund_keeps_access_records_the_amount_and_tells_the_learner(web, offering, enrollment, mailbox):
    html = refund(web, offering, enrollment.order, "20", reason="Missed the first week").get_data(as_text=True)
    assert "Refunded $20 to pat@example.org." in html
    assert "access has ended" not in html

    order = enrollment.order
    db.session.refresh(order)
    db.session.refresh(enrollment)
    assert order.status is OrderStatus.PARTIALLY_REFUNDED
    assert order.refunded_cents == 2000 and order.refundable_cents == 2900
    assert enrollment.status is EnrollmentStatus.ACTIVE
    (row,) = db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id))
    assert row.amount_cents == 2000
    assert row.reason == "Missed the first week"
    assert row.created_by_id == offering.creator.user_id

    (message,) = mailbox.messages
    assert message["To"] == "pat@example.org"
    assert message["Subject"] == "A refund for Grounding Skills"
    assert "$20 of your payment for Grounding Skills has been refunded" in mailbox.last_body()

    assert lesson_answer(web, offering) == 200


def test_full_refund_ends_access(web, offering, enrollment, mailbox):
    html = refund(web, offering, enrollment.order, "49.00").get_data(as_text=True)
    assert "Refunded $49 to pat@example.org. That was the whole payment, so their access has ended." in html
    db.session.refresh(enrollment)
    db.session.refresh(enrollment.order)
    assert enrollment.status is EnrollmentStatus.REVOKED
    assert enrollment.order.status is OrderStatus.REFUNDED and enrollment.order.refunded_cents == 4900
    assert lesson_answer(web, offering) == 403


def test_the_rest_after_a_partial_refund_ends_access_and_the_history_shows_both(web, client, offering, enrollment):
    refund(web, offering, enrollment.order, "10", reason="Partial goodwill")
    db.session.refresh(enrollment.order)
    html = client.get(refund_url(offering, enrollment.order)).get_data(as_text=True)
    assert 'value="39"' in html
    assert "Partial goodwill" in html and "by you" in html

    refund(web, offering, enrollment.order, "39")
    db.session.refresh(enrollment)
    assert enrollment.status is EnrollmentStatus.REVOKED
    html = client.get(refund_url(offering, enrollment.order)).get_data(as_text=True)
    assert "This order has been refunded in full" in html
    assert html.count('class="refund-reason"') == 2, "both refunds are listed, each with its reason"
    assert "Refunded by the creator" in html
    roster = client.get(f"/studio/courses/{offering.id}/learners").get_data(as_text=True)
    assert "$49 · Refunded" in roster and "$49 refunded" in roster
    assert f'href="{refund_url(offering, enrollment.order)}"' not in roster, "nothing left to refund"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("60", "You can refund at most $49 on this order."),
        ("0", "Enter an amount above zero."),
        ("", "Enter the amount to refund."),
        ("-5", "The amount can&#39;t be negative."),
        ("lots", "Enter an amount such as 150 or 150.00."),
    ],
)
def test_a_refund_that_cannot_be_made_says_why_and_changes_nothing(web, offering, enrollment, mailbox, amount, message):
    response = refund(web, offering, enrollment.order, amount)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    db.session.refresh(enrollment.order)
    assert enrollment.order.refunded_cents == 0 and enrollment.order.status is OrderStatus.PAID
    assert db.session.scalar(sa.select(sa.func.count(Refund.id))) == 0
    assert mailbox.messages == []


def test_a_second_press_of_the_button_refunds_once(web, client, offering, enrollment, mailbox):
    page = client.get(refund_url(offering, enrollment.order)).get_data(as_text=True)
    data = {"csrf_token": csrf_token_from(page), "amount": "10", "refunded_before": "0"}
    client.post(refund_url(offering, enrollment.order), data=data)
    html = client.post(refund_url(offering, enrollment.order), data=data).get_data(as_text=True)
    assert "This order was refunded in the meantime" in html
    db.session.refresh(enrollment.order)
    assert enrollment.order.refunded_cents == 1000
    assert len(mailbox.messages) == 1


def test_an_order_of_another_offering_is_not_found(web, client, offering, creator, enrollment):
    other_order = OrderFactory(
        offering=OfferingFactory(creator=creator), status=OrderStatus.PAID, payment_intent_id="pi_x"
    )
    assert client.get(refund_url(offering, other_order)).status_code == 404
    page = client.get(refund_url(offering, enrollment.order)).get_data(as_text=True)
    response = client.post(refund_url(offering, other_order), data={"csrf_token": csrf_token_from(page), "amount": "1"})
    assert response.status_code == 404
    assert other_order.refunded_cents == 0


def test_an_unpaid_order_has_no_refund_page(web, client, offering):
    pending = OrderFactory(offering=offering, status=OrderStatus.PENDING)
    assert client.get(refund_url(offering, pending)).status_code == 404


def test_an_admin_can_refund(web, client, offering, enrollment):
    UserFactory(email="ops@example.org", name="Ops Person", is_admin=True)
    web.logout()
    web.login("ops@example.org", PASSWORD)
    html = refund(web, offering, enrollment.order, "5").get_data(as_text=True)
    assert "Refunded $5 to pat@example.org." in html
    web.logout()
    web.login("maya@example.org", PASSWORD)
    assert "by Ops Person" in client.get(refund_url(offering, enrollment.order)).get_data(as_text=True)


def test_a_disputed_order_explains_why_it_cannot_be_refunded(web, client, offering, enrollment):
    enrollment.order.status = OrderStatus.DISPUTED
    enrollment.status = EnrollmentStatus.SUSPENDED
    db.session.flush()
    html = client.get(refund_url(offering, enrollment.order)).get_data(as_text=True)
    assert "opened a payment dispute" in html
    assert 'name="amount"' not in html
    roster = client.get(f"/studio/courses/{offering.id}/learners").get_data(as_text=True)
    assert "Paused (dispute)" in roster and "$49 · Disputed" in roster
