"""List pages don't grow with the data: the body for 2,000 offerings, learners, orders or creators is the
size of the body for 100.

Measured before: a creator's storefront with 10,000 offerings rendered every one of them (4.4 MB,
9.4 s a page).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from courseplatform import stats
from courseplatform.extensions import db
from courseplatform.models import (
    CreatorProfile,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    Offering,
    OfferingKind,
    OfferingStatus,
    Order,
    OrderStatus,
    PaymentProvider,
    User,
    utcnow,
)

from ..factories import PASSWORD, CreatorProfileFactory, OfferingFactory, UserFactory


def publish_many(creator, count: int, start: int = 0) -> None:
    """Published offerings in one statement (the factories would take minutes for thousands)."""
    now = utcnow()
    db.session.execute(
        sa.insert(Offering),
        [
            {
                "creator_id": creator.id,
                "title": f"Offering {n:05d}",
                "slug": f"{creator.slug}-offering-{n:05d}",
                "kind": OfferingKind.COURSE,
                "status": OfferingStatus.PUBLISHED,
                "price_cents": 4900,
                "currency": "USD",
                "published_at": now,
            }
            for n in range(start, start + count)
        ],
    )
    db.session.commit()


def test_a_storefront_shows_a_page_of_offerings_however_many_there_are(client):
    creator = CreatorProfileFactory(slug="maya-chen", display_name="Maya Chen")
    publish_many(creator, 100)
    small = client.get("/t/maya-chen")
    publish_many(creator, 1900, start=100)
    big = client.get("/t/maya-chen")
    assert small.status_code == big.status_code == 200
    assert len(big.data) < len(small.data) * 1.05, (len(small.data), len(big.data))
    page = big.get_data(as_text=True)
    assert "Showing 1–24 of 2,000 offerings" in page
    assert 'rel="next"' in page
    last = client.get("/t/maya-chen?page=84").get_data(as_text=True)
    assert "Offering 00000" in last and "Showing 1,993–2,000 of 2,000 offerings" in last


def test_the_studio_dashboard_shows_a_page_of_offerings_however_many_there_are(web, client):
    creator = CreatorProfileFactory(slug="maya-chen", display_name="Maya Chen", user__email="maya@example.org")
    web.login("maya@example.org", PASSWORD)
    publish_many(creator, 100)
    small = client.get("/studio")
    publish_many(creator, 1900, start=100)
    big = client.get("/studio")
    assert small.status_code == big.status_code == 200
    assert len(big.data) < len(small.data) * 1.05, (len(small.data), len(big.data))
    assert "Showing 1–25 of 2,000 offerings" in big.get_data(as_text=True)
    assert "Showing 1,976–2,000 of 2,000 offerings" in client.get("/studio?page=80").get_data(as_text=True)


def enrol_many(offering, count: int, start: int = 0) -> None:
    """Learners and their enrollments in two statements, then the running totals recounted (as after any bulk load)."""
    now = utcnow()
    ids = db.session.scalars(
        sa.insert(User).returning(User.id),
        [
            {"name": f"Learner {n:05d}", "email": f"learner{n:05d}@example.org", "password_hash": "!invited"}
            for n in range(start, start + count)
        ],
    ).all()
    db.session.execute(
        sa.insert(Enrollment),
        [
            {
                "user_id": user_id,
                "offering_id": offering.id,
                "source": EnrollmentSource.COMP,
                "status": EnrollmentStatus.ACTIVE,
                "enrolled_at": now - timedelta(seconds=n),
            }
            for n, user_id in enumerate(ids)
        ],
    )
    stats.rebuild()
    db.session.commit()


def test_the_roster_shows_a_page_of_learners_however_many_there_are(web, client):
    creator = CreatorProfileFactory(user__email="maya@example.org")
    offering = OfferingFactory(creator=creator, title="Grounding")
    web.login("maya@example.org", PASSWORD)
    enrol_many(offering, 100)
    small = client.get(f"/studio/courses/{offering.id}/learners")
    enrol_many(offering, 1900, start=100)
    big = client.get(f"/studio/courses/{offering.id}/learners")
    assert small.status_code == big.status_code == 200
    assert len(big.data) < len(small.data) * 1.05, (len(small.data), len(big.data))
    page = big.get_data(as_text=True)
    assert "2000 with access" in page.replace(",", "")
    last = client.get(f"/studio/courses/{offering.id}/learners?page=40").get_data(as_text=True)
    assert "Page 40 of 40" in last and "learner01999@example.org" in last


def sell_many(creator, count: int, start: int = 0) -> None:
    """One paid order for each of `count` new offerings (bulk statements), totals recounted."""
    publish_many(creator, count, start)
    buyer = UserFactory()
    offerings = db.session.scalars(
        sa.select(Offering.id).where(Offering.creator_id == creator.id).order_by(Offering.id).offset(start)
    ).all()
    paid_at = utcnow() - timedelta(days=1)
    db.session.execute(
        sa.insert(Order),
        [
            {
                "learner_id": buyer.id,
                "offering_id": offering_id,
                "amount_cents": 1000 + n,
                "currency": "USD",
                "provider": PaymentProvider.TEST,
                "status": OrderStatus.PAID,
                "platform_fee_cents": 100,
                "paid_at": paid_at,
            }
            for n, offering_id in enumerate(offerings)
        ],
    )
    stats.rebuild()
    db.session.commit()


def test_the_revenue_page_shows_the_top_earners_and_pages_the_rest(web, client):
    creator = CreatorProfileFactory(user__email="maya@example.org")
    web.login("maya@example.org", PASSWORD)
    sell_many(creator, 100)
    small = client.get("/studio/revenue")
    sell_many(creator, 1900, start=100)
    big = client.get("/studio/revenue")
    assert small.status_code == big.status_code == 200
    assert len(big.data) < len(small.data) * 1.05, (len(small.data), len(big.data))
    page = big.get_data(as_text=True)
    assert "Page 1 of 100 · 2,000 offerings" in page
    # The best earner (the last sold, at the highest price) leads; the cheapest is on the last page.
    assert "Offering 01999" in page and "Offering 00000" not in page
    assert "Offering 00000" in client.get("/studio/revenue?page=100").get_data(as_text=True)
    # The CSV is the monthly table, whole whatever the number of offerings.
    csv = client.get("/studio/revenue.csv").get_data(as_text=True)
    assert len(csv.splitlines()) == 13


def sign_up_creators(count: int, start: int = 0) -> None:
    """Creators with their accounts, in two statements."""
    users = db.session.scalars(
        sa.insert(User).returning(User.id),
        [
            {"name": f"Person {n}", "email": f"bulk{n}@example.org", "password_hash": "!invited"}
            for n in range(start, start + count)
        ],
    ).all()
    db.session.execute(
        sa.insert(CreatorProfile),
        [{"user_id": user_id, "slug": f"bulk-{user_id}", "display_name": f"Bulk {user_id}"} for user_id in users],
    )
    db.session.commit()


def test_the_consoles_creator_and_order_lists_show_a_page_however_many_there_are(web, client):
    operator = UserFactory(is_admin=True)
    web.login(operator.email, PASSWORD)
    creator = CreatorProfileFactory()
    sell_many(creator, 100)
    sign_up_creators(100)
    pages = ["/admin", "/admin/creators", "/admin/orders", f"/admin/creators/{creator.id}"]
    small = [client.get(url) for url in pages]
    sell_many(creator, 1900, start=100)
    sign_up_creators(1900, start=100)
    big = [client.get(url) for url in pages]
    for url, before, after in zip(pages, small, big, strict=True):
        assert before.status_code == after.status_code == 200
        assert len(after.data) < len(before.data) * 1.05, (url, len(before.data), len(after.data))
