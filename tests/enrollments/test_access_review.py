"""Access rules under attack: a creator's revoke followed by a refund, seats taken by two requests
at once, and the waitlist told at the right moment."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import AccessEvent, Enrollment, EnrollmentStatus, OfferingKind, Order, OrderStatus

from ..factories import PASSWORD, CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory, UserFactory
from ..factories.live import live_session
from ..markup import text_of
from ..studio.test_refunds_from_studio import refund
from .test_access_integrity import bought, post_confirmed


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org", user__name="Maya Chen", display_name="Maya Chen")
    web.login("maya@example.org", PASSWORD)
    return profile


@pytest.fixture
def offering(creator):
    offering = OfferingFactory(creator=creator, slug="grounding", title="Grounding Skills", price_cents=4900)
    LessonFactory(section=SectionFactory(offering=offering), title="Breathing")
    return offering


def test_refunding_a_learner_the_creator_revoked_does_not_let_them_buy_back_in(web, client, offering):
    enrollment = bought(offering)
    db.session.commit()
    roster = f"/studio/courses/{offering.id}/learners"
    post_confirmed(web, f"{roster}/{enrollment.id}/revoke", roster)
    # Revoke says "No money was refunded": the creator refunds them too, as the studio suggests.
    refunded = refund(web, offering, enrollment.order, "49.00")
    assert "Refunded" in text_of(refunded.get_data(as_text=True))

    web.logout()
    web.login("pat@example.org", PASSWORD)
    page = client.get("/courses/grounding").get_data(as_text=True)
    assert "Maya Chen ended your access on" in text_of(page)
    assert "Buy again" not in page and "Buy now" not in page
    tried = web.submit("/courses/grounding/checkout", {}, form_url="/courses/grounding")
    assert "only they can give it back" in text_of(tried.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Order.id)).where(Order.status == OrderStatus.PENDING)) == 0
    pat = db.session.get(Enrollment, enrollment.id)
    assert pat.status is EnrollmentStatus.REVOKED and pat.reason is AccessEvent.CREATOR_REVOKE


def test_one_learner_pressing_buy_with_different_amounts_holds_one_seat_not_all(web, client, creator):
    offering = OfferingFactory(
        creator=creator, slug="circle", kind=OfferingKind.LIVE_WORKSHOP, price_cents=4900, sliding_scale_min_cents=2000
    )
    LessonFactory(section=SectionFactory(offering=offering))
    live_session(offering, days=7, capacity=2)
    UserFactory(email="hoarder@example.org")
    UserFactory(email="sam@example.org")
    db.session.commit()
    web.logout()
    web.login("hoarder@example.org", PASSWORD)
    for amount in ("20.00", "20.01", "20.02"):
        web.submit("/courses/circle/checkout", {"amount": amount}, form_url="/courses/circle", follow_redirects=False)
    web.logout()

    web.login("sam@example.org", PASSWORD)
    assert "1 seat left" in text_of(client.get("/courses/circle").get_data(as_text=True))
    bought_seat = web.submit(
        "/courses/circle/checkout", {"amount": "49.00"}, form_url="/courses/circle", follow_redirects=False
    )
    assert "/checkout/test/" in bought_seat.headers["Location"]
