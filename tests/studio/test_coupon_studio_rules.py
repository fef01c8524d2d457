"""The studio's Coupons page (archived codes made again, links to share) and a 100 % code's $0 order."""

from __future__ import annotations

import re

import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Coupon, OfferingStatus, Order

from ..factories import (
    PASSWORD,
    CouponFactory,
    CreatorProfileFactory,
    LessonFactory,
    OfferingFactory,
    SectionFactory,
    UserFactory,
)
from ..markup import text_of


def make(web, **fields):
    data = {"kind": "percent", "scope": "all", "max_per_learner": "1", **fields}
    return web.submit("/studio/coupons", data, form_url="/studio/coupons", follow_redirects=False)


def published(creator, title: str, **kwargs):
    offering = OfferingFactory(creator=creator, title=title, price_cents=12000, **kwargs)
    LessonFactory(section=SectionFactory(offering=offering))
    return offering


def test_archiving_a_code_lets_the_creator_make_it_again_as_the_refusal_says(web):
    """'You already have a code X. Choose another, or archive that one first.' -- but archiving never frees it."""
    creator = CreatorProfileFactory()
    web.login(creator.user.email, PASSWORD)
    make(web, code="WELCOME", percent_off="10")
    (old,) = db.session.scalars(sa.select(Coupon).where(Coupon.creator_id == creator.id))
    refused = make(web, code="WELCOME", percent_off="20")
    assert "or archive that one first" in text_of(refused.get_data(as_text=True))
    web.submit(f"/studio/coupons/{old.id}/archive", {}, form_url="/studio/coupons")

    again = make(web, code="WELCOME", percent_off="20")

    told = text_of(again.get_data(as_text=True))
    assert "You already have a code WELCOME" not in told
    assert again.status_code == 302


def test_the_link_to_share_opens_for_learners(web, client):
    """The 'Link to share' of an all-offerings code is the first couponable offering by title, drafts included."""
    creator = CreatorProfileFactory()
    published(creator, "Zen for clinicians")
    published(creator, "Anxiety basics (coming in spring)", status=OfferingStatus.DRAFT)
    CouponFactory(creator=creator, code="HELLO", percent_off=10)
    web.login(creator.user.email, PASSWORD)
    page = client.get("/studio/coupons").get_data(as_text=True)
    links = re.findall(r"http://aqueduct.test(/courses/[^<\"]+)", page)
    web.logout()
    web.login(UserFactory().email, PASSWORD)

    opened = {link: client.get(link.replace("&amp;", "&")).status_code for link in links}

    assert links and set(opened.values()) == {200}, opened


def test_a_100_percent_codes_zero_order_is_not_called_refunded_in_full(web, client):
    creator = CreatorProfileFactory()
    course = published(creator, "Grounding")
    CouponFactory(creator=creator, code="COLLEAGUE", percent_off=100)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    web.submit(f"/courses/{course.slug}/checkout", {"coupon": "COLLEAGUE"}, form_url=f"/courses/{course.slug}")
    (order,) = db.session.scalars(sa.select(Order).where(Order.learner_id == learner.id))
    web.logout()
    web.login(creator.user.email, PASSWORD)
    studio = text_of(client.get(f"/studio/courses/{course.id}/orders/{order.id}/refund").get_data(as_text=True))
    web.logout()
    admin = UserFactory(is_admin=True)
    web.login(admin.email, PASSWORD)
    console = text_of(client.get(f"/admin/orders/{order.id}").get_data(as_text=True))

    assert order.refunded_cents == 0 and not order.refunds
    assert "refunded in full" not in studio
    assert "refunded in full" not in console


def test_the_link_to_share_is_on_the_sites_address_not_the_host_the_request_named(app, web, client):
    """Every other absolute link is BASE_URL + path (links.absolute_url: 'never the Host a request claims');
    the coupons page alone uses url_for(_external=True), so it shows whatever Host the request came with
    (behind a proxy that forwards its upstream name: http://app:8000/...)."""
    creator = CreatorProfileFactory()
    published(creator, "Zen for clinicians")
    CouponFactory(creator=creator, code="HELLO", percent_off=10)
    web.login(creator.user.email, PASSWORD)

    page = client.get("/studio/coupons").get_data(as_text=True)  # the test client's Host: localhost

    (link,) = re.findall(r'<code class="share-link">([^<]+)</code>', page)
    assert link.startswith(app.config["BASE_URL"] + "/courses/"), link
