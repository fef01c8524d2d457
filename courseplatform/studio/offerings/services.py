"""Studio rules: saving, publishing, archiving and duplicating offerings; figures for the overview."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload, undefer
from werkzeug.datastructures import FileStorage

from ... import clientfacing
from ...bundles import bundle_problems, published_bundles_holding
from ...continuing_education import creator_today, snapshot_ce
from ...enrollments.waitlist import announce_opening
from ...extensions import db
from ...fields import slugify
from ...integrations.payments import MINIMUM_CHARGE_CENTS, test_mode
from ...integrations.storage import get_storage
from ...media.services import claim_upload, release_assets, store_upload
from ...models import (
    Audience,
    BillingInterval,
    CEClaim,
    CreatorProfile,
    Enrollment,
    Lesson,
    LessonKind,
    LiveSession,
    MediaAsset,
    Offering,
    OfferingKind,
    OfferingStatus,
    Order,
    QuizChoice,
    QuizQuestion,
    Section,
    Topic,
    bundle_items,
    stored_markdown,
    utcnow,
)
from ...pagination import Page, paginate
from ...stats import offering_learners, offering_net_cents
from .ce_rules import ce_review, ce_rules_kept
from .forms import topic_names


class StudioError(ValueError):
    """A studio rule was broken; the message tells the creator what to do, next to `field` of the form."""

    field = "slug"


class PriceRefused(StudioError):
    """A published bundle's price changed to one it can't be sold at (free, or pay what you can)."""

    field = "price_kind"


class TestimonialsUnconfirmed(StudioError):
    """A published offering for the public whose Details leave its testimonials unconfirmed."""

    field = "testimonials_unsolicited"


class WaitlistRefused(StudioError):
    """An offering a published bundle sells put on waitlist only: the bundle would stop selling."""

    field = "waitlist_only"


class KindChangeRefused(StudioError):
    """An offering turned into a bundle, or a bundle into something else: its lessons or contents would be lost."""

    field = "kind"


class CERulesBroken(StudioError):
    """A change that would break a published offering's CE claims; nothing of it was kept."""


class NotReadyToPublish(StudioError):
    """Publishing was refused; `problems` lists everything that is missing."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("This offering isn't ready to publish yet.")
        self.problems = problems


DASHBOARD_PER_PAGE = 25  # a creator of thousands of offerings reads the dashboard a page at a time
DASHBOARD_ORDER = (Offering.updated_at.desc(), Offering.id.desc())


def offerings_overview(profile: CreatorProfile, offering_id: int | None = None) -> list[sa.Row]:
    """Each offering (or just one) with active learners, net revenue and next live date, in one query."""
    ids = [offering_id] if offering_id is not None else None
    return _overview_rows(profile, ids)


def offerings_page(profile: CreatorProfile, page: int) -> tuple[Page[int], list[sa.Row]]:
    """A page of the creator's offerings, newest change first, with their figures: two queries.

    The figures (learners, revenue, next live date) are worked out for this page's offerings only.
    """
    found = paginate(
        sa.select(Offering.id).where(Offering.creator_id == profile.id).order_by(*DASHBOARD_ORDER),
        page,
        DASHBOARD_PER_PAGE,
        keep_past_end=True,
    )
    return found, _overview_rows(profile, list(found.items)) if found.items else []


def _overview_rows(profile: CreatorProfile, offering_ids: list[int] | None) -> list[sa.Row]:
    """The offerings with their learners and net to date read off the running totals, one row each."""
    next_live = (
        sa.select(sa.func.min(LiveSession.starts_at))
        .where(LiveSession.offering_id == Offering.id, LiveSession.starts_at > utcnow())
        .scalar_subquery()
    )
    wanted = Offering.creator_id == profile.id
    if offering_ids is not None:
        wanted = sa.and_(wanted, Offering.id.in_(offering_ids))
    return list(
        db.session.execute(
            sa.select(
                Offering,
                offering_learners().label("learners"),
                offering_net_cents().label("revenue_cents"),
                next_live.label("next_live_at"),
            )
            .where(wanted)
            .order_by(*DASHBOARD_ORDER)
        )
    )


RESERVED_SLUGS = frozenset({"ce"})


def unique_offering_slug(wanted: str, exclude_id: int | None = None) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`… whichever is free."""
    base = slugify(wanted, max_length=150)
    taken = set(
        db.session.scalars(
            sa.select(Offering.slug).where(
                sa.or_(Offering.slug == base, Offering.slug.like(base + "-%")),
                Offering.id != (exclude_id or 0),
            )
        )
    )
    taken |= RESERVED_SLUGS  # /learn/ce is the learner's CE page, not an offering's
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def slug_in_use(slug: str, exclude_id: int | None) -> bool:
    return (
        db.session.scalar(sa.select(Offering.id).where(Offering.slug == slug, Offering.id != (exclude_id or 0)))
        is not None
    )


def topics_for(names: list[str]) -> list[Topic]:
    """The Topic rows for these names, creating the ones that don't exist yet."""
    wanted = {slugify(n, max_length=60): n for n in names}
    existing = {t.slug: t for t in db.session.scalars(sa.select(Topic).where(Topic.slug.in_(wanted)))}
    topics = []
    for slug, name in wanted.items():
        topic = existing.get(slug)
        if topic is None:
            topic = Topic(slug=slug, name=name)
            db.session.add(topic)
        topics.append(topic)
    return topics


def save_offering(
    profile: CreatorProfile, offering: Offering | None, form, cover: FileStorage | None
) -> tuple[Offering, list[str]]:
    """Create or update an offering from a validated OfferingForm.

    Returns the offering and the storage keys of a cover image it no longer uses, for
    the caller to delete after the commit.
    """
    if offering is None:
        # Linked by id, not by relationship, so it joins the session only when complete.
        offering = Offering(creator_id=profile.id, currency=profile.currency, status=OfferingStatus.DRAFT)
    if offering.id is not None:
        _check_kind_change(offering, form.kind.data)
        public = form.audience.data == Audience.PUBLIC.value
        if offering.status is OfferingStatus.PUBLISHED and public and not form.testimonials_unsolicited.data:
            # Publishing asks for it; a published offering can't become one for the public, or drop it, without.
            raise TestimonialsUnconfirmed(
                "A published offering for the public needs this: tick it if its page quotes no testimonial you "
                "asked a current or former client for, or take the offering back to draft first."
            )
        if form.waitlist_only.data and not offering.waitlist_only and published_bundles_holding(offering):
            raise WaitlistRefused(
                "This offering is in a published bundle, which would stop selling while it takes only "
                "waitlist sign-ups: take it out of the bundle's Contents first."
            )
    slug = form.slug.data or unique_offering_slug(form.title.data, exclude_id=offering.id)
    if slug_in_use(slug, offering.id):
        raise StudioError("Another offering already uses this web address; choose another.")
    old_cover = offering.cover_asset
    stored = None  # a file this request wrote, removed again if the change is refused
    if form.cover_asset_id.data:
        offering.cover_asset = claim_upload(profile.user, form.cover_asset_id.data, {"image"})
    elif cover is not None and cover.filename:
        offering.cover_asset = stored = store_upload(profile.user, cover, {"image"})
    elif form.remove_cover.data:
        offering.cover_asset = None
    opening = offering.waitlist_only and not form.waitlist_only.data
    try:
        with ce_rules_kept(offering, CERulesBroken):
            _apply_details(offering, form, slug)
    except CERulesBroken:
        if stored is not None:  # the caller rolls back the row; the bytes are ours to remove
            get_storage().delete(stored.storage_key)
        raise
    if offering.status is OfferingStatus.PUBLISHED:
        snapshot_ce(offering, "details changed")
    if opening and offering.status is OfferingStatus.PUBLISHED:
        announce_opening(offering)
    if offering.holds_offerings and offering.status is OfferingStatus.PUBLISHED and not _fixed_price(offering):
        raise PriceRefused(
            f"A published {offering.kind.label.lower()} keeps a fixed price: it can't be free or pay what you can. "
            "Take it back to draft to change that."
        )
    if old_cover is not None and old_cover is not offering.cover_asset:
        return offering, release_assets([old_cover])
    return offering, []


def _fixed_price(offering: Offering) -> bool:
    return not offering.is_free and offering.sliding_scale_min_cents is None


def _check_kind_change(offering: Offering, kind: str) -> None:
    """KindChangeRefused for a bundle made something else or the reverse (its contents or lessons would be
    lost), and for an offering a published bundle holds made a live workshop (bundles hold none)."""
    holders = (OfferingKind.BUNDLE.value, OfferingKind.MEMBERSHIP.value)
    if (offering.holds_offerings or kind in holders) and kind != offering.kind.value:
        raise KindChangeRefused(
            "A bundle or a membership can't become another kind of offering, nor another offering one: "
            "make a new one instead."
        )
    becomes_live = kind == OfferingKind.LIVE_WORKSHOP.value and offering.kind is not OfferingKind.LIVE_WORKSHOP
    if becomes_live and any(not holder.is_membership for holder in published_bundles_holding(offering)):
        raise KindChangeRefused(
            "This offering is in a published bundle, and bundles hold no live workshops: "
            "take it out of the bundle's Contents first."
        )


def _apply_details(offering: Offering, form, slug: str) -> None:
    price, sliding_min = form.price_values()
    offering.kind = OfferingKind(form.kind.data)
    offering.title = form.title.data.strip()
    offering.slug = slug
    offering.subtitle = (form.subtitle.data or "").strip()
    offering.description = form.description.data or ""
    offering.price_cents = price
    offering.sliding_scale_min_cents = sliding_min
    offering.plan_instalments, offering.plan_instalment_cents = form.plan_values()
    membership = offering.kind is OfferingKind.MEMBERSHIP
    offering.billing_interval = BillingInterval(form.billing_interval.data or "month") if membership else None
    offering.ce_minutes = form.ce_minutes.data or None
    offering.ce_approval_statement = (form.ce_approval_statement.data or "").strip()
    offering.authoring_minutes = form.authoring_minutes.data or 0
    offering.sequential = form.sequential.data
    # Only live workshops have sessions to attend.
    live = offering.kind is OfferingKind.LIVE_WORKSHOP
    offering.min_attendance_percent = form.min_attendance_percent.data if live else None
    offering.attendance_grace_minutes = form.attendance_grace_minutes.data if live else None
    offering.checkin_required = bool(form.checkin_required.data) and live
    offering.waitlist_only = form.waitlist_only.data
    offering.audience = Audience(form.audience.data or "clinicians")
    offering.not_therapy_statement = (form.not_therapy_statement.data or "").strip()
    offering.crisis_resources = (form.crisis_resources.data or "").strip()
    offering.testimonials_unsolicited = bool(form.testimonials_unsolicited.data)
    offering.topics = topics_for(topic_names(form.topics.data))
    offering.updated_at = utcnow()
    db.session.add(offering)
    db.session.flush()


def curriculum_problems(offering: Offering) -> list[str]:
    """What in the lessons blocks publishing: no lessons, missing files, empty quizzes, live lessons with no session."""
    lessons = list(
        db.session.scalars(
            sa.select(Lesson)
            .join(Section)
            .where(Section.offering_id == offering.id)
            .order_by(Section.position, Section.id, Lesson.position, Lesson.id)
            .options(selectinload(Lesson.questions))
        )
    )
    if not lessons:
        return ["Add at least one lesson (Curriculum)."]
    problems = []
    missing_files = sum(
        1 for lesson in lessons if lesson.kind in (LessonKind.VIDEO, LessonKind.DOWNLOAD) and not lesson.media_asset_id
    )
    if missing_files:
        problems.append(f"Upload the file for {missing_files} video or download lesson(s) (Curriculum).")
    empty_quizzes = sum(1 for lesson in lessons if lesson.kind is LessonKind.QUIZ and not lesson.questions)
    if empty_quizzes:
        problems.append(f"Add questions to {empty_quizzes} quiz(zes) (Curriculum).")
    problems.extend(
        f"Lesson “{lesson.title}” is a live lesson with no session: pick its session or change its kind (Curriculum)."
        for lesson in lessons
        if lesson.awaits_session
    )
    return problems


def publish_problems(offering: Offering) -> list[str]:
    """Everything that stops this offering from being published, in words the creator can act on."""
    problems = bundle_problems(offering) if offering.holds_offerings else curriculum_problems(offering)
    if not offering.description.strip():
        problems.append("Write a description, so learners know what they'll get (Details).")
    if offering.price_cents and offering.price_cents < MINIMUM_CHARGE_CENTS:
        problems.append("Set a price of at least 0.50, or make it free (Details).")
    if offering.sliding_scale_min_cents is not None and offering.sliding_scale_min_cents > offering.price_cents:
        problems.append("The lowest sliding-scale amount is above the suggested price (Details).")
    if offering.price_cents and not can_take_payments(offering.creator):
        problems.append("Connect your Stripe account so you can be paid (Payouts), or make the offering free.")
    if offering.kind is OfferingKind.LIVE_WORKSHOP:
        upcoming = db.session.scalar(
            sa.select(sa.func.count(LiveSession.id)).where(
                LiveSession.offering_id == offering.id, LiveSession.starts_at > utcnow()
            )
        )
        if not upcoming:
            problems.append("Schedule at least one upcoming live session (Live sessions).")
    problems.extend(ce_review(offering, creator_today(offering.creator)).problems)
    problems.extend(clientfacing.publish_problems(offering))
    return problems


def can_take_payments(profile: CreatorProfile) -> bool:
    """In test mode (no Stripe key) everyone can; with Stripe, only a connected account that can charge."""
    if test_mode():
        return True
    return bool(profile.stripe_account_id and profile.stripe_charges_enabled)


def publish(offering: Offering) -> None:
    """Put the offering in the catalog, or raise NotReadyToPublish with what is missing."""
    if offering.status is OfferingStatus.PUBLISHED:
        return
    problems = publish_problems(offering)
    if problems:
        raise NotReadyToPublish(problems)
    offering.status = OfferingStatus.PUBLISHED
    offering.published_at = offering.published_at or utcnow()
    offering.updated_at = utcnow()
    db.session.flush()
    snapshot_ce(offering, "published")
    if not offering.waitlist_only:
        announce_opening(offering)


def archive(offering: Offering) -> None:
    """Take a published offering out of the catalog; enrolled learners keep their access."""
    if offering.status is not OfferingStatus.PUBLISHED:
        raise StudioError("Only a published offering can be archived.")
    _keep_bundles_selling(offering, "archived")
    offering.status = OfferingStatus.ARCHIVED
    offering.updated_at = utcnow()


def unpublish(offering: Offering) -> None:
    """Back to draft, to rework it; enrolled learners keep their access."""
    if offering.status is OfferingStatus.DRAFT:
        raise StudioError("This offering is already a draft.")
    _keep_bundles_selling(offering, "taken back to draft")
    offering.status = OfferingStatus.DRAFT
    offering.updated_at = utcnow()


def duplicate_offering(offering: Offering) -> Offering:
    """A draft copy with the same details, curriculum and quizzes (files shared, live dates not copied)."""
    offering = db.session.execute(
        sa.select(Offering)
        .where(Offering.id == offering.id)
        .options(
            undefer(Offering.description_html),
            selectinload(Offering.topics),
            selectinload(Offering.sections)
            .selectinload(Section.lessons)
            .options(undefer(Lesson.body_html), selectinload(Lesson.questions).selectinload(QuizQuestion.choices)),
        )
    ).scalar_one()
    copy = Offering(
        creator_id=offering.creator_id,
        kind=offering.kind,
        title=f"Copy of {offering.title}"[:160],
        slug=unique_offering_slug(f"{offering.slug}-copy"),
        subtitle=offering.subtitle,
        description=stored_markdown(offering, "description"),
        cover_asset_id=offering.cover_asset_id,
        price_cents=offering.price_cents,
        sliding_scale_min_cents=offering.sliding_scale_min_cents,
        billing_interval=offering.billing_interval,
        plan_instalments=offering.plan_instalments,
        plan_instalment_cents=offering.plan_instalment_cents,
        currency=offering.currency,
        status=OfferingStatus.DRAFT,
        ce_minutes=offering.ce_minutes,
        ce_approval_statement=offering.ce_approval_statement,
        ce_format=offering.ce_format,
        ce_level=offering.ce_level,
        ce_category=offering.ce_category,
        ce_audience=offering.ce_audience,
        ce_objectives=offering.ce_objectives,
        ce_presenters=offering.ce_presenters,
        ce_disclosure=offering.ce_disclosure,
        ce_claims=[CEClaim(body=claim.body) for claim in offering.ce_claims],
        authoring_minutes=0,
        sequential=offering.sequential,
        min_attendance_percent=offering.min_attendance_percent,
        attendance_grace_minutes=offering.attendance_grace_minutes,
        checkin_required=offering.checkin_required,
        waitlist_only=offering.waitlist_only,
        audience=offering.audience,
        not_therapy_statement=offering.not_therapy_statement,
        crisis_resources=offering.crisis_resources,
        testimonials_unsolicited=offering.testimonials_unsolicited,
        topics=list(offering.topics),
    )
    for section in offering.sections:
        new_section = Section(title=section.title, position=section.position)
        copy.sections.append(new_section)
        for lesson in section.lessons:
            new_lesson = Lesson(
                title=lesson.title,
                kind=lesson.kind,
                position=lesson.position,
                body=stored_markdown(lesson, "body"),
                media_asset_id=lesson.media_asset_id,
                captions_asset_id=lesson.captions_asset_id,
                duration_seconds=lesson.duration_seconds,
                is_preview=lesson.is_preview,
                content_note=lesson.content_note,
                available_after_days=lesson.available_after_days,
                quiz_pass_percent=lesson.quiz_pass_percent,
                quiz_max_attempts=lesson.quiz_max_attempts,
                quiz_reveal_answers=lesson.quiz_reveal_answers,
            )
            new_section.lessons.append(new_lesson)
            for question in lesson.questions:
                new_question = QuizQuestion(
                    prompt=question.prompt,
                    explanation=stored_markdown(question, "explanation"),
                    position=question.position,
                )
                new_lesson.questions.append(new_question)
                for choice in question.choices:
                    new_question.choices.append(
                        QuizChoice(text=choice.text, is_correct=choice.is_correct, position=choice.position)
                    )
    db.session.add(copy)
    db.session.flush()
    if offering.holds_offerings and offering.bundle_offerings:
        held = [{"bundle_id": copy.id, "item_id": o.id, "position": n} for n, o in enumerate(offering.bundle_offerings)]
        db.session.execute(sa.insert(bundle_items), held)
    return copy


def _keep_bundles_selling(offering: Offering, change: str) -> None:
    """StudioError when `change` (archiving, back to draft, deleting, a new kind) would stop a published
    bundle that holds this offering from selling: the creator takes it out of the bundle first."""
    holding = published_bundles_holding(offering)
    if holding:
        names = ", ".join(f"“{bundle.title}”" for bundle in holding)
        raise StudioError(
            f"This offering is sold in {names}, so it can't be {change}: "
            "take it out of its Contents first, or take that back to draft."
        )


def has_buyers(offering: Offering) -> bool:
    """Whether anyone ever ordered or enrolled: then the offering is archived, never deleted."""
    ordered = sa.select(Order.id).where(Order.offering_id == offering.id)
    enrolled = sa.select(Enrollment.id).where(Enrollment.offering_id == offering.id)
    return bool(db.session.scalar(sa.select(sa.or_(sa.exists(ordered), sa.exists(enrolled)))))


def delete_offering(offering: Offering) -> list[str]:
    """Delete an offering nobody bought, with its curriculum and sessions (flushed).

    Returns the storage keys of files nothing else uses, for the caller to delete after
    the commit. An offering with orders or learners is refused: what people paid for
    is never lost (archive it instead).
    """
    if has_buyers(offering):
        raise StudioError(
            "People have enrolled in or ordered this offering, so it can't be deleted. "
            "Archive it instead: it leaves the catalog and they keep their access."
        )
    _keep_bundles_selling(offering, "deleted")
    lessons = [lesson for section in offering.sections for lesson in section.lessons]
    ids = {
        offering.cover_asset_id,
        *(lesson.media_asset_id for lesson in lessons),
        *(lesson.captions_asset_id for lesson in lessons),
        *(session.replay_asset_id for session in offering.live_sessions),
    } - {None}
    assets = list(db.session.scalars(sa.select(MediaAsset).where(MediaAsset.id.in_(ids)))) if ids else []
    db.session.delete(offering)
    db.session.flush()
    return release_assets(assets)
