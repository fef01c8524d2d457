"""The shop window runs the same number of SQL queries with 3 offerings as with 60."""

from __future__ import annotations

import pytest

from courseplatform.extensions import db
from courseplatform.models import LessonKind, OfferingKind

from ..factories import (
    PASSWORD,
    CreatorProfileFactory,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    SectionFactory,
    UserFactory,
)
from ..factories.catalog import topic, waitlist_entry
from ..factories.live import live_session
from ..factories.media import media_asset

KINDS = [OfferingKind.COURSE, OfferingKind.RECORDED_WORKSHOP, OfferingKind.LIVE_WORKSHOP]


def build_shop(size: int) -> dict:
    """`size` offerings with covers, topics, sections, lessons, live sessions, learners and waitlists.

    Every other offering has a creator of its own (with a photo), so a lazy load per card would show.
    """
    tag = f"s{size}"
    main = CreatorProfileFactory(slug=f"main-{tag}", user__email=f"main-{tag}@example.org")
    main.photo_asset_id = media_asset(main.user, "me.jpg", "image/jpeg").id
    learner = UserFactory(email=f"learner-{tag}@example.org", time_zone="Europe/Paris")
    topics = [topic(f"Topic {tag} {n}", f"topic-{tag}-{n}") for n in range(3)]
    offerings = []
    for n in range(size):
        if n % 2:
            owner = CreatorProfileFactory()
            owner.photo_asset_id = media_asset(owner.user, "photo.png", "image/png").id
        else:
            owner = main
        kind = KINDS[n % 3]
        offering = OfferingFactory(
            creator=owner,
            kind=kind,
            title=f"Shop course {n}",
            slug=f"{tag}-{n}",
            price_cents=1000 * (n % 7),
            sliding_scale_min_cents=500 if n % 5 == 0 and n % 7 else None,
            topics=topics[: 1 + n % 3],
            cover_asset_id=media_asset(owner.user, "cover.png", "image/png").id,
            ce_minutes=60 if n % 2 else None,
        )
        offerings.append(offering)
        for s in range(2):
            section = SectionFactory(offering=offering, position=s)
            LessonFactory(
                section=section,
                position=0,
                kind=LessonKind.VIDEO,
                is_preview=s == 0,
                media_asset=media_asset(owner.user, "v.mp4", "video/mp4"),
                captions_asset=media_asset(owner.user, "v.vtt", "text/vtt"),
            )
            LessonFactory(section=section, position=1)
        if kind is OfferingKind.LIVE_WORKSHOP:
            live_session(offering, days=3, capacity=50)
            live_session(offering, days=10, capacity=None)
        EnrollmentFactory(user=learner, offering=offering)
        EnrollmentFactory(offering=offering)
        waitlist_entry(offering, f"wait-{n}@example.org")
    db.session.flush()
    live = next(c for c in reversed(offerings) if c.kind is OfferingKind.LIVE_WORKSHOP and c.creator is main)
    plain = next(c for c in reversed(offerings) if c.kind is OfferingKind.COURSE and c.creator is main)
    preview = live.sections[0].lessons[0]
    return {
        "main": main,
        "learner": learner,
        "topic": topics[0].slug,
        "live": live.slug,
        "plain": plain.slug,
        "live_id": live.id,
        "preview": f"/courses/{live.slug}/preview/{preview.id}",
    }


PAGES = {
    "anonymous": [
        "/",
        "/courses",
        "/courses?q=shop+course",
        "/courses?topic={topic}&kind=course&sort=price_asc",
        "/courses?sort=title",
        "/courses/{live}",
        "/courses/{plain}",
        "{preview}",
        "/t/{creator}",
    ],
    "learner": ["/", "/courses?q=shop", "/courses/{live}", "/courses/{plain}", "{preview}", "/t/{creator}"],
    "creator": ["/courses/{live}", "/t/{creator}", "/studio/courses/{live_id}/waitlist"],
}


@pytest.mark.parametrize("who", PAGES)
def test_shop_pages_run_a_constant_number_of_queries(who, web, client, count_queries):
    counts: dict[str, list[int]] = {}
    for size in (3, 60):
        shop = build_shop(size)
        user = {"anonymous": None, "learner": shop["learner"], "creator": shop["main"].user}[who]
        if user is not None:
            web.login(user.email, PASSWORD)
        for template in PAGES[who]:
            url = template.format(creator=shop["main"].slug, **shop)
            with count_queries() as counter:
                response = client.get(url)
            assert response.status_code == 200, url
            counts.setdefault(template, []).append(counter.count)
        if user is not None:
            web.logout()
    for template, (small, large) in counts.items():
        assert small == large, f"{template}: {small} queries with 3 offerings, {large} with 60"
