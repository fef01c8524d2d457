"""What creators build: offerings, their curriculum, quizzes and live sessions."""

from __future__ import annotations

import enum
import functools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, Unmapped, aliased, mapped_column, relationship, unmapped_column

from ..extensions import Model, db
from .accounts import CreatorProfile
from .base import ONLY_ON_POSTGRESQL, UTCDateTime, enum_column, markdown_html, money_check, utcnow
from .ce import CECategory, CEClaim, CEFormat, InstructionalLevel

if TYPE_CHECKING:
    from .media import MediaAsset


class OfferingKind(enum.Enum):
    COURSE = "course"
    RECORDED_WORKSHOP = "recorded_workshop"
    LIVE_WORKSHOP = "live_workshop"
    BUNDLE = "bundle"  # several of the creator's offerings sold together at one price
    MEMBERSHIP = "membership"  # a subscription, monthly or yearly, to some of the creator's offerings

    @property
    def label(self) -> str:
        return {
            "course": "Self-paced course",
            "recorded_workshop": "Recorded workshop",
            "live_workshop": "Live workshop",
            "bundle": "Bundle",
            "membership": "Membership",
        }[self.value]


class BillingInterval(enum.Enum):
    """How often a membership renews."""

    MONTH = "month"
    YEAR = "year"

    @property
    def adverb(self) -> str:
        return "monthly" if self is BillingInterval.MONTH else "yearly"


class Audience(enum.Enum):
    """Who an offering is for: clinicians (training, CE), or the public (psychoeducation, never therapy)."""

    CLINICIANS = "clinicians"
    PUBLIC = "public"

    @property
    def label(self) -> str:
        return "Clinicians" if self is Audience.CLINICIANS else "The public"


class OfferingStatus(enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class LessonKind(enum.Enum):
    VIDEO = "video"
    TEXT = "text"
    DOWNLOAD = "download"
    QUIZ = "quiz"
    LIVE = "live"


offering_topics = sa.Table(
    "course_topics",
    db.metadata,
    sa.Column("course_id", sa.ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("topic_id", sa.ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
    sa.Index("ix_course_topics_topic_id", "topic_id"),
)

# What a bundle includes, in the order its page lists them. A bundle holds courses and
# recorded workshops (not live workshops, whose seats are sold one date at a time, nor bundles).
bundle_items = sa.Table(
    "bundle_items",
    db.metadata,
    sa.Column("bundle_id", sa.ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("item_id", sa.ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("bundle_id <> item_id", name="bundle_not_in_itself"),
    sa.Index("ix_bundle_items_item_id", "item_id"),
)


class Topic(Model):
    """A subject learners browse by, such as "Trauma" or "Couples"."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    slug: Mapped[str] = mapped_column(sa.String(60), unique=True)


class Offering(Model):
    """An offering: a self-paced course, a recorded workshop or a live workshop.

    The code calls it an offering everywhere; the database keeps its first names (the `courses` table,
    `course_id` columns, the `course_kind` and `course_status` types), which each model maps by name.
    Renaming stored names would break the release still serving during a rolling deploy, and the
    operators' own SQL, for no change anyone sees. Public addresses stay `/courses/...`.
    """

    __tablename__ = "courses"
    __table_args__ = (
        money_check("price_cents"),
        sa.CheckConstraint(
            "sliding_scale_min_cents IS NULL OR "
            "(sliding_scale_min_cents >= 0 AND sliding_scale_min_cents <= price_cents)",
            name="sliding_scale_within_price",
        ),
        sa.CheckConstraint(
            "(plan_instalments IS NULL AND plan_instalment_cents IS NULL) OR "
            "(plan_instalments BETWEEN 2 AND 24 AND plan_instalment_cents > 0)",
            name="plan_both_or_neither",
        ),
        sa.CheckConstraint("ce_minutes IS NULL OR ce_minutes > 0", name="ce_minutes_positive"),
        sa.CheckConstraint("authoring_minutes >= 0", name="authoring_minutes_non_negative"),
        sa.CheckConstraint(
            "min_attendance_percent IS NULL OR (min_attendance_percent > 0 AND min_attendance_percent <= 100)",
            name="min_attendance_percent_range",
        ),
        sa.CheckConstraint(
            "attendance_grace_minutes IS NULL OR (attendance_grace_minutes >= 0 AND attendance_grace_minutes <= 60)",
            name="attendance_grace_minutes_range",
        ),
        sa.Index("ix_courses_status_published_at", "status", "published_at"),
        sa.Index("ix_courses_creator_status", "creator_id", "status"),
        sa.Index("ix_courses_search_vector", "search_vector", postgresql_using="gin", info=ONLY_ON_POSTGRESQL),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    creator_id: Mapped[int] = mapped_column(sa.ForeignKey("creator_profiles.id", ondelete="CASCADE"))
    kind: Mapped[OfferingKind] = mapped_column(enum_column(OfferingKind, "course_kind"))
    title: Mapped[str] = mapped_column(sa.String(160))
    slug: Mapped[str] = mapped_column(sa.String(160), unique=True)
    subtitle: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    description_html: Mapped[Markup] = markdown_html("description", deferred=True)
    cover_asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media_assets.id", ondelete="SET NULL"))
    price_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    # When set, learners may pay any amount from this minimum up (the price is the suggestion).
    sliding_scale_min_cents: Mapped[int | None] = mapped_column()
    # A payment plan besides the price: this many monthly instalments of this amount (both or neither).
    plan_instalments: Mapped[int | None] = mapped_column()
    plan_instalment_cents: Mapped[int | None] = mapped_column()
    # A membership's price is for this long; it renews until the member cancels.
    billing_interval: Mapped[BillingInterval | None] = mapped_column(enum_column(BillingInterval, "billing_interval"))
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD", server_default="USD")
    status: Mapped[OfferingStatus] = mapped_column(
        enum_column(OfferingStatus, "course_status"), default=OfferingStatus.DRAFT
    )
    ce_minutes: Mapped[int | None] = mapped_column()
    ce_approval_statement: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # What the accrediting bodies ask of each CE program (checked at publish for each body claimed).
    ce_format: Mapped[CEFormat | None] = mapped_column(enum_column(CEFormat, "ce_format"))
    ce_level: Mapped[InstructionalLevel | None] = mapped_column(enum_column(InstructionalLevel, "ce_level"))
    ce_category: Mapped[CECategory | None] = mapped_column(enum_column(CECategory, "ce_category"))
    ce_audience: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    ce_objectives: Mapped[str] = mapped_column(sa.Text, default="", server_default="")  # one a line
    ce_presenters: Mapped[str] = mapped_column(sa.Text, default="", server_default="")  # "Name, credentials" a line
    ce_disclosure: Mapped[str] = mapped_column(sa.Text, default="", server_default="")  # conflicts, commercial support
    authoring_minutes: Mapped[int] = mapped_column(default=0, server_default="0")
    sequential: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Live workshops: the share of the scheduled live minutes a learner must attend for the certificate.
    min_attendance_percent: Mapped[int | None] = mapped_column()
    # Live workshops: a session earns no credit for a learner who arrived more than this many minutes
    # late, left more than this many early, or was away longer in between (None: no such rule).
    attendance_grace_minutes: Mapped[int | None] = mapped_column()
    # Live workshops: a session earns credit only for learners who entered the code the presenter showed.
    checkin_required: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    waitlist_only: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Client-facing psychoeducation (Audience.PUBLIC) carries a statement that it is education, not therapy, and
    # crisis resources on its page and in every lesson; empty: the defaults (clientfacing.py), by the creator's country.
    audience: Mapped[Audience] = mapped_column(
        enum_column(Audience, "offering_audience"), default=Audience.CLINICIANS, server_default="clinicians"
    )
    not_therapy_statement: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    crisis_resources: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # For the public: the creator confirmed its page quotes no testimonial solicited from a current or former
    # client (APA 5.05, ACA C.3.b); publishing waits for it.
    testimonials_unsolicited: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # PostgreSQL's full-text index of the offering's words and its creator's name, weighted by field.
    # Triggers write it (see the migration that adds it), so it also covers bulk loads and renames.
    # Part of the table, not of the class: no INSERT, SELECT or subquery of offerings names it, so
    # SQLite, where it doesn't exist, never meets it. Searches read `Offering.__table__.c.search_vector`.
    search_vector: Unmapped[str | None] = unmapped_column(TSVECTOR, info=ONLY_ON_POSTGRESQL)

    creator: Mapped[CreatorProfile] = relationship(back_populates="offerings")
    cover_asset: Mapped[MediaAsset | None] = relationship()
    sections: Mapped[list[Section]] = relationship(
        back_populates="offering", order_by="Section.position", cascade="all, delete-orphan"
    )
    live_sessions: Mapped[list[LiveSession]] = relationship(
        back_populates="offering", order_by="LiveSession.starts_at", cascade="all, delete-orphan"
    )
    topics: Mapped[list[Topic]] = relationship(secondary=offering_topics, order_by=Topic.name)
    ce_claims: Mapped[list[CEClaim]] = relationship(
        back_populates="offering", order_by="CEClaim.body", cascade="all, delete-orphan"
    )
    # A bundle's offerings, in its order (empty for anything else).
    bundle_offerings: Mapped[list[Offering]] = relationship(
        secondary=bundle_items,
        primaryjoin=lambda: Offering.id == bundle_items.c.bundle_id,
        secondaryjoin=lambda: Offering.id == bundle_items.c.item_id,
        order_by=lambda: (bundle_items.c.position, bundle_items.c.item_id),
        viewonly=True,
    )

    @property
    def is_bundle(self) -> bool:
        return self.kind is OfferingKind.BUNDLE

    @property
    def is_free(self) -> bool:
        return self.price_cents == 0

    @hybrid_property
    def is_membership(self) -> bool:
        return self.kind is OfferingKind.MEMBERSHIP

    @property
    def holds_offerings(self) -> bool:
        """A bundle or a membership: it sells access to other offerings (`bundle_offerings`), not lessons."""
        return self.kind in (OfferingKind.BUNDLE, OfferingKind.MEMBERSHIP)

    @property
    def has_plan(self) -> bool:
        """Learners may pay in monthly instalments as well as all at once (fixed prices only)."""
        return (
            bool(self.plan_instalments and self.plan_instalment_cents)
            and self.sliding_scale_min_cents is None
            and not self.is_membership
        )

    @hybrid_property
    def is_listed(self) -> bool:
        """Offered to new learners: published, by a creator who isn't suspended.

        The one rule for every place that lists or sells offerings (catalog, search, storefront,
        checkout, waitlist); learners already enrolled keep their access whatever it says.
        """
        return self.status is OfferingStatus.PUBLISHED and not self.creator.is_suspended

    @is_listed.inplace.expression
    @classmethod
    def _is_listed_expression(cls) -> sa.ColumnElement[bool]:
        # Built once for Offering: every catalog, storefront and checkout query carries it, and building
        # the subquery anew cost a third of the home page's CPU. (Aliases of Offering build their own.)
        if cls is Offering:
            return _offering_is_listed()
        return cls._build_is_listed()

    @classmethod
    def _build_is_listed(cls) -> sa.ColumnElement[bool]:
        suspended = aliased(CreatorProfile)
        withdrawn = (
            sa.select(suspended.id)
            .where(suspended.id == cls.creator_id, suspended.suspended_at.is_not(None))
            .correlate(cls)
            .exists()
        )
        return sa.and_(cls.status == OfferingStatus.PUBLISHED, ~withdrawn)

    @property
    def ce_hours(self) -> float | None:
        return None if self.ce_minutes is None else self.ce_minutes / 60

    @property
    def objectives(self) -> list[str]:
        return [line.strip(" -•\t") for line in self.ce_objectives.splitlines() if line.strip(" -•\t")]

    @property
    def presenters(self) -> list[str]:
        return [line.strip() for line in self.ce_presenters.splitlines() if line.strip()]

    def __repr__(self) -> str:
        return f"<Offering {self.slug} {self.status.value}>"


@functools.cache
def _offering_is_listed() -> sa.ColumnElement[bool]:
    return Offering._build_is_listed()


class Section(Model):
    """An ordered section of an offering."""

    __tablename__ = "sections"
    __table_args__ = (sa.Index("ix_sections_course_position", "course_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column("course_id", sa.ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(160))
    position: Mapped[int] = mapped_column(default=0)

    offering: Mapped[Offering] = relationship(back_populates="sections")
    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="section", order_by="Lesson.position", cascade="all, delete-orphan"
    )


class Lesson(Model):
    """One step of the curriculum: a video, a text, a download, a quiz or a live session."""

    __tablename__ = "lessons"
    __table_args__ = (
        sa.Index("ix_lessons_section_position", "section_id", "position"),
        sa.CheckConstraint("available_after_days >= 0", name="drip_non_negative"),
        sa.CheckConstraint("quiz_pass_percent >= 0 AND quiz_pass_percent <= 100", name="quiz_pass_percent_range"),
        sa.CheckConstraint("quiz_max_attempts IS NULL OR quiz_max_attempts > 0", name="quiz_attempts_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(sa.ForeignKey("sections.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(160))
    kind: Mapped[LessonKind] = mapped_column(enum_column(LessonKind, "lesson_kind"))
    position: Mapped[int] = mapped_column(default=0)
    body: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    body_html: Mapped[Markup] = markdown_html("body", deferred=True)
    media_asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media_assets.id", ondelete="SET NULL"))
    captions_asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media_assets.id", ondelete="SET NULL"))
    live_session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("live_sessions.id", ondelete="SET NULL"))
    duration_seconds: Mapped[int | None] = mapped_column()
    is_preview: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # A content note shown before the lesson (e.g. "discusses suicide"), for client-facing offerings above all.
    content_note: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    available_after_days: Mapped[int] = mapped_column(default=0, server_default="0")
    quiz_pass_percent: Mapped[int] = mapped_column(default=80, server_default="80")
    quiz_max_attempts: Mapped[int | None] = mapped_column()
    quiz_reveal_answers: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    section: Mapped[Section] = relationship(back_populates="lessons")
    media_asset: Mapped[MediaAsset | None] = relationship(foreign_keys=[media_asset_id])
    captions_asset: Mapped[MediaAsset | None] = relationship(foreign_keys=[captions_asset_id])
    live_session: Mapped[LiveSession | None] = relationship()
    questions: Mapped[list[QuizQuestion]] = relationship(
        back_populates="lesson", order_by="QuizQuestion.position", cascade="all, delete-orphan"
    )

    @property
    def awaits_session(self) -> bool:
        """A live lesson whose session isn't picked yet: it can't be published or marked complete."""
        return self.kind is LessonKind.LIVE and self.live_session_id is None and self.live_session is None


class QuizQuestion(Model):
    """A multiple-choice question with one or more right answers."""

    __tablename__ = "quiz_questions"
    __table_args__ = (sa.Index("ix_quiz_questions_lesson_position", "lesson_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(sa.ForeignKey("lessons.id", ondelete="CASCADE"))
    prompt: Mapped[str] = mapped_column(sa.Text)
    explanation: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    explanation_html: Mapped[Markup] = markdown_html("explanation")
    position: Mapped[int] = mapped_column(default=0)

    lesson: Mapped[Lesson] = relationship(back_populates="questions")
    choices: Mapped[list[QuizChoice]] = relationship(
        back_populates="question", order_by="QuizChoice.position", cascade="all, delete-orphan"
    )


class QuizChoice(Model):
    """One answer a learner can tick; `is_correct` marks the right ones."""

    __tablename__ = "quiz_choices"
    __table_args__ = (sa.Index("ix_quiz_choices_question_position", "question_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(sa.ForeignKey("quiz_questions.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(sa.String(500))
    is_correct: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    position: Mapped[int] = mapped_column(default=0)

    question: Mapped[QuizQuestion] = relationship(back_populates="choices")


class LiveSession(Model):
    """A scheduled meeting of a live workshop, stored in UTC with the creator's zone."""

    __tablename__ = "live_sessions"
    __table_args__ = (
        sa.Index("ix_live_sessions_course_starts", "course_id", "starts_at"),
        sa.Index("ix_live_sessions_starts_at", "starts_at"),
        sa.CheckConstraint("duration_minutes > 0", name="duration_positive"),
        sa.CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column("course_id", sa.ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(160), default="", server_default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    time_zone: Mapped[str] = mapped_column(sa.String(64))
    duration_minutes: Mapped[int] = mapped_column(default=90, server_default="90")
    capacity: Mapped[int | None] = mapped_column()
    join_url: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    replay_asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media_assets.id", ondelete="SET NULL"))
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The check-in code the presenter shows during the session (None until they create one).
    checkin_code: Mapped[str | None] = mapped_column(sa.String(12))

    offering: Mapped[Offering] = relationship(back_populates="live_sessions")

    @property
    def ends_at(self) -> datetime:
        try:
            return self.starts_at + timedelta(minutes=self.duration_minutes)
        except OverflowError:  # a far date stored before the form refused one: it ends at the end of time
            return datetime.max.replace(tzinfo=UTC)

    def is_upcoming(self, now: datetime | None = None) -> bool:
        return self.ends_at > (now or utcnow())
