"""List pages don't grow with the data: the body for 2,000 offerings is the size of the body for 100.

Measured before: a creator's storefront with 10,000 offerings rendered every one of them (4.4 MB,
9.4 s a page).
"""

from __future__ import annotations

import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Course, CourseKind, CourseStatus, utcnow

from ..factories import PASSWORD, CreatorProfileFactory


def publish_many(creator, count: int, start: int = 0) -> None:
    """Published offerings in one statement (the factories would take minutes for thousands)."""
    now = utcnow()
    db.session.execute(
        sa.insert(Course),
        [
            {
                "creator_id": creator.id,
                "title": f"Offering {n:05d}",
                "slug": f"{creator.slug}-offering-{n:05d}",
                "kind": CourseKind.COURSE,
                "status": CourseStatus.PUBLISHED,
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
