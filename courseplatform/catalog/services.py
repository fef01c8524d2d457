"""Queries for the public shop window, each page in a fixed number of round trips."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased, contains_eager, joinedload, selectinload, undefer

from ..enrollments.notes import LearnerNote
from ..enrollments.seats import Seats
from ..extensions import db
from ..formatting import in_zone, known_zone
from ..media.services import media_url
from ..models import (
    CreatorProfile,
    Enrollment,
    Lesson,
    LiveSession,
    MediaAsset,
    Offering,
    OfferingKind,
    OfferingStatus,
    Section,
    Topic,
    User,
    WaitlistEntry,
    offering_topics,
    utcnow,
)
from ..pagination import Page, paginate, paginate_counted
from ..stats import learners_taught
from .forms import OfferingSearchForm
from .search import text_match

PER_PAGE = 12
STOREFRONT_PER_PAGE = 24  # a storefront of thousands of offerings is read a page at a time
# The statuses whose page stays open to visitors (archived: for those who bookmarked it).
VISIBLE_STATUSES = (OfferingStatus.PUBLISHED, OfferingStatus.ARCHIVED)


def _card_query() -> sa.Select:
    """Listed offerings with their creator in the same row, ready for course cards."""
    return (
        sa.select(Offering).join(Offering.creator).where(Offering.is_listed).options(contains_eager(Offering.creator))
    )


def browsable_topics() -> list[Topic]:
    """Topics that at least one listed offering carries, for the filter menu."""
    in_use = (
        sa.select(offering_topics.c.topic_id)
        .join(Offering, Offering.id == offering_topics.c.course_id)
        .where(Offering.is_listed)
    )
    return list(db.session.scalars(sa.select(Topic).where(Topic.id.in_(in_use)).order_by(Topic.name, Topic.id)))


def search_offerings(form: OfferingSearchForm, page: int) -> Page[Offering]:
    """One page of the catalog for the visitor's search, topic, format and sort.

    Best match first is one query over the matches, served by the search index on PostgreSQL;
    the other orders are a count and a page, which PostgreSQL may read in that order and stop early.
    """
    statement = catalog_statement(form)
    if form.sort.data == "relevance" and form.query:
        # Ranking reads every match anyway: counting them in the same pass halves the rows read.
        return paginate_counted(statement, page, PER_PAGE)
    return paginate(statement, page, PER_PAGE, keep_past_end=True)


def catalog_statement(form: OfferingSearchForm) -> sa.Select:
    """The listed offerings the visitor's search and filters select, in the order they chose."""
    query = _card_query()
    match = text_match(form.query)
    if match is not None:
        query = query.where(match.condition)
    if form.topic.data:
        query = query.where(Offering.topics.any(Topic.slug == form.topic.data))
    if form.kind.data:
        query = query.where(Offering.kind == OfferingKind(form.kind.data))
    lowest_price = sa.func.coalesce(Offering.sliding_scale_min_cents, Offering.price_cents)
    newest = (Offering.published_at.desc(), Offering.id.desc())
    order = {
        "relevance": match.relevance if match is not None else newest,
        "newest": newest,
        "price_asc": (lowest_price.asc(), Offering.price_cents.asc(), Offering.id.desc()),
        "price_desc": (lowest_price.desc(), Offering.price_cents.desc(), Offering.id.desc()),
        "title": (sa.func.lower(Offering.title).asc(), Offering.id.asc()),
    }[form.sort.data]
    return query.order_by(*order)


def newest_offerings(limit: int) -> list[Offering]:
    """The most recently published offerings, for the landing page."""
    query = _card_query().order_by(Offering.published_at.desc(), Offering.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def cover_urls(offerings: list[Offering]) -> dict[int, str]:
    """Offering id → a short-lived link to its cover image, in one query for the whole page."""
    wanted = {c.cover_asset_id for c in offerings if c.cover_asset_id}
    if not wanted:
        return {}
    assets: dict[int | None, MediaAsset] = {
        a.id: a for a in db.session.scalars(sa.select(MediaAsset).where(MediaAsset.id.in_(wanted)))
    }
    urls = {}
    for offering in offerings:
        url = media_url(assets.get(offering.cover_asset_id))
        if url:
            urls[offering.id] = url
    return urls


# ---------------------------------------------------------------------------
# One offering's page
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferingPage:
    """An offering with what its page needs besides the model itself."""

    offering: Offering
    creator_photo: MediaAsset | None
    cover: MediaAsset | None


@functools.cache
def _offering_page_statement() -> sa.Select:
    """The offering page's query, built once (building it cost more CPU than running it); the slug is bound."""
    photo = aliased(MediaAsset)
    cover = aliased(MediaAsset)
    return (
        sa.select(Offering, photo, cover)
        .join(Offering.creator)
        .outerjoin(photo, photo.id == CreatorProfile.photo_asset_id)
        .outerjoin(cover, cover.id == Offering.cover_asset_id)
        .where(Offering.slug == sa.bindparam("slug"))
        .options(
            contains_eager(Offering.creator).undefer(CreatorProfile.bio_html),
            undefer(Offering.description_html),
            selectinload(Offering.sections).joinedload(Section.lessons).joinedload(Lesson.media_asset),
            selectinload(Offering.live_sessions),
            selectinload(Offering.topics),
        )
    )


def offering_for_page(slug: str) -> OfferingPage | None:
    """An offering (any status; the view decides who may see it) with its outline, sessions and topics."""
    row = db.session.execute(_offering_page_statement(), {"slug": slug}).unique().first()
    if row is None:
        return None
    return OfferingPage(offering=row[0], creator_photo=row[1], cover=row[2])


def can_see_draft(user: User, offering: Offering) -> bool:
    """The owner and the operators may look at an offering that isn't published yet."""
    if not user.is_authenticated:
        return False
    if user.is_admin:
        return True
    profile = user.creator_profile
    return profile is not None and profile.id == offering.creator_id


@dataclass(frozen=True)
class SessionSeats:
    """An upcoming live session, shown in the visitor's zone, with the workshop's seats still free."""

    session: LiveSession
    starts_at: datetime
    ends_at: datetime
    zone: str
    seats_left: int | None  # None: no limit

    @property
    def is_full(self) -> bool:
        return self.seats_left is not None and self.seats_left <= 0


def upcoming_session_seats(offering: Offering, found: Seats, viewer_zone: str | None) -> list[SessionSeats]:
    """The live sessions still to come, in the viewer's zone (else the session's own).

    A seat is a place in the whole workshop, so every session shows the workshop's seats left.
    """
    now = utcnow()
    rows = []
    for session in offering.live_sessions:
        if not session.is_upcoming(now):
            continue
        zone = known_zone(viewer_zone) or known_zone(session.time_zone) or "UTC"
        rows.append(
            SessionSeats(
                session=session,
                starts_at=in_zone(session.starts_at, zone),
                ends_at=in_zone(session.ends_at, zone),
                zone=zone,
                seats_left=found.left,
            )
        )
    return rows


def call_to_action(offering: Offering, enrollment: Enrollment | None, found: Seats, note: LearnerNote | None) -> str:
    """Which one thing the buy box offers: enrolled, ended, archived, waitlist, free, sliding or buy."""
    if enrollment is not None and enrollment.is_active:
        return "enrolled"
    if note is not None and not note.may_buy:
        return "ended"
    if offering.status is OfferingStatus.ARCHIVED:
        return "archived"
    if offering.status is OfferingStatus.PUBLISHED and not offering.is_listed:
        return "unavailable"
    if offering.waitlist_only:
        return "waitlist"
    if offering.kind is OfferingKind.LIVE_WORKSHOP and (not found.upcoming_dates or found.is_full):
        return "waitlist"
    if offering.is_free:
        return "free"
    if offering.sliding_scale_min_cents is not None:
        return "sliding"
    return "buy"


def enrollment_for(user: User, offering: Offering) -> Enrollment | None:
    """The visitor's enrollment in this offering, if any."""
    if not user.is_authenticated:
        return None
    return db.session.scalar(sa.select(Enrollment).filter_by(user_id=user.id, offering_id=offering.id))


def find_preview_lesson(slug: str, lesson_id: int) -> Lesson | None:
    """A free preview lesson of a visible offering, with its course, creator and files loaded."""
    return db.session.scalar(
        sa.select(Lesson)
        .join(Lesson.section)
        .join(Section.offering)
        .where(Lesson.id == lesson_id, Offering.slug == slug, Lesson.is_preview.is_(True))
        .options(
            contains_eager(Lesson.section).contains_eager(Section.offering),
            joinedload(Lesson.media_asset),
            joinedload(Lesson.captions_asset),
            joinedload(Lesson.live_session),
            undefer(Lesson.body_html),
        )
    )


def other_previews(offering: Offering) -> list[Lesson]:
    """Every free preview lesson of an offering, in curriculum order."""
    return list(
        db.session.scalars(
            sa.select(Lesson)
            .join(Lesson.section)
            .where(Section.offering_id == offering.id, Lesson.is_preview.is_(True))
            .order_by(Section.position, Section.id, Lesson.position, Lesson.id)
        )
    )


def on_waitlist(user: User, offering: Offering) -> bool:
    """Whether the logged-in visitor's address is already on this offering's waitlist."""
    if not user.is_authenticated:
        return False
    return (
        db.session.scalar(
            sa.select(WaitlistEntry.id).where(
                WaitlistEntry.offering_id == offering.id, WaitlistEntry.email == user.email
            )
        )
        is not None
    )


# ---------------------------------------------------------------------------
# Storefronts
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Storefront:
    """A therapist's public page: the profile, its photo, the offerings and learners taught."""

    profile: CreatorProfile
    photo: MediaAsset | None
    offerings: Page[Offering]  # one page of the published offerings, newest first
    learners_taught: int


def storefront(slug: str, page: int = 1) -> Storefront | None:
    """A creator's profile, photo and a page of their published offerings, plus learners taught across all."""
    photo = aliased(MediaAsset)
    row = db.session.execute(
        sa.select(CreatorProfile, photo, learners_taught(CreatorProfile.id))
        .outerjoin(photo, photo.id == CreatorProfile.photo_asset_id)
        .where(CreatorProfile.slug == slug)
        .options(undefer(CreatorProfile.bio_html))
    ).first()
    if row is None:
        return None
    profile = row[0]
    offerings = paginate(
        sa.select(Offering)
        .where(Offering.creator_id == profile.id, Offering.is_listed)
        .order_by(Offering.published_at.desc(), Offering.id.desc()),
        page,
        STOREFRONT_PER_PAGE,
        keep_past_end=True,
    )
    return Storefront(profile=profile, photo=row[1], offerings=offerings, learners_taught=row[2] or 0)
