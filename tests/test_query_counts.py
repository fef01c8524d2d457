"""Every page runs the same number of SQL queries whatever the amount of data (3 or 60 offerings)."""

from __future__ import annotations

import pytest

from courseplatform.extensions import db
from courseplatform.models import (
    MAX_REFERRAL_PARTNERS,
    Audience,
    LessonProgress,
    PracticeWaitlistEntry,
    ReferralPartner,
    Topic,
    utcnow,
)

from .factories import (
    PASSWORD,
    CouponFactory,
    CreatorProfileFactory,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    OrderFactory,
    SectionFactory,
    UserFactory,
)


def build_world(size: int):
    """One creator with `size` offerings, each with sections, lessons, topics, buyers and progress."""
    creator = CreatorProfileFactory(
        user__email=f"creator{size}@example.org", slug=f"creator-{size}", practice_waitlist_open=True
    )
    learner = UserFactory(email=f"learner{size}@example.org")
    admin = UserFactory(email=f"admin{size}@example.org", is_admin=True)
    topics = [Topic(name=f"Topic {size}-{n}", slug=f"topic-{size}-{n}") for n in range(3)]
    db.session.add_all(topics)
    offerings = []
    for n in range(size):
        # Every other offering has a creator of its own, so a per-course lazy load would show.
        owner = creator if n % 2 == 0 else CreatorProfileFactory()
        audience = Audience.PUBLIC if n % 3 == 0 else Audience.CLINICIANS
        offering = OfferingFactory(creator=owner, slug=f"c{size}-{n}", topics=topics[: 1 + n % 3], audience=audience)
        offerings.append(offering)
        for s in range(2):
            section = SectionFactory(offering=offering, position=s)
            for lesson_number in range(3):
                LessonFactory(section=section, position=lesson_number, is_preview=lesson_number == 0)
        enrollment = EnrollmentFactory(user=learner, offering=offering)
        db.session.flush()
        db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=offering.sections[0].lessons[0].id))
        for _ in range(2):
            OrderFactory(offering=offering)
        # A code of each owner's, limited to this offering on every other one, used once.
        coupon = CouponFactory(creator=owner, code=f"Q{size}X{n}", all_offerings=n % 4 == 0, max_redemptions=size)
        if not coupon.all_offerings:
            coupon.offerings = [offering]
        OrderFactory(offering=offering, coupon=coupon, amount_cents=offering.price_cents // 2, discount_cents=1)
    CouponFactory(creator=creator, code=f"WORLD{size}", max_redemptions=100)
    # The creator's practice waitlist: people on it (some mailed, some gone) and colleagues to refer to.
    for n in range(size):
        db.session.add(
            PracticeWaitlistEntry(
                creator_id=creator.id,
                email=None if n % 5 == 4 else f"waiting{size}-{n}@example.org",
                left_at=utcnow() if n % 5 == 4 else None,
                last_mailed_at=utcnow() if n % 2 else None,
            )
        )
    for n in range(min(size, MAX_REFERRAL_PARTNERS)):
        db.session.add(ReferralPartner(creator_id=creator.id, name=f"Colleague {n}", position=n))
    db.session.flush()
    return creator, learner, admin, [c for c in offerings if c.creator is creator]


PAGES = {
    "anonymous": ["/", "/courses", "/courses/{offering}", "/t/{creator}", "/t/{creator}/waitlist"],
    "learner": ["/learn", "/courses/{offering}", "/courses/{offering}?coupon={coupon}", "/account"],
    "creator": [
        "/studio",
        "/become-a-creator",
        "/studio/courses/{offering_id}",
        "/studio/courses/{offering_id}/edit",
        "/studio/courses/{offering_id}/curriculum",
        "/studio/courses/{offering_id}/waitlist",
        "/studio/coupons",
        "/studio/practice-waitlist",
    ],
    "admin": ["/admin", "/admin/creators", "/admin/orders", "/admin/orders?q=example.org", "/admin/audit"],
}


@pytest.mark.parametrize("who", PAGES)
def test_pages_run_a_constant_number_of_queries(who, web, client, count_queries):
    counts: dict[str, list[int]] = {}
    for size in (3, 60):
        creator, learner, admin, offerings = build_world(size)
        user = {"anonymous": None, "learner": learner, "creator": creator.user, "admin": admin}[who]
        if user is not None:
            web.login(user.email, PASSWORD)
        for template in PAGES[who]:
            url = template.format(
                offering=offerings[-1].slug, offering_id=offerings[-1].id, creator=creator.slug, coupon=f"WORLD{size}"
            )
            with count_queries() as counter:
                response = client.get(url)
            assert response.status_code == 200, url
            counts.setdefault(template, []).append(counter.count)
        if user is not None:
            web.logout()
    for template, (small, large) in counts.items():
        assert small == large, f"{template}: {small} queries with 3 offerings, {large} with 60"
