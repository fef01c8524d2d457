"""Continuing education to the accreditors' standard: a provider's approvals, and what an offering claims.

A creator who is an approved CE provider records each approval (the body, the provider number,
the approval period, the formats approved and the body's statement). An offering claims CE hours
from some of those bodies; publishing checks each claim against the body's rules (see
`studio/offerings/ce_rules.py`).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .base import UTCDateTime, enum_column, utcnow

if TYPE_CHECKING:
    from .accounts import CreatorProfile
    from .offerings import Offering


class AccreditingBody(enum.Enum):
    """The bodies whose approval a provider may hold; California's board is the first state."""

    APA = "apa"
    ASWB = "aswb"
    NASW = "nasw"
    NBCC = "nbcc"
    CA_BBS = "ca_bbs"

    @property
    def label(self) -> str:
        return {
            "apa": "APA",
            "aswb": "ASWB ACE",
            "nasw": "NASW",
            "nbcc": "NBCC",
            "ca_bbs": "California BBS",
        }[self.value]

    @classmethod
    def of(cls, value: str) -> AccreditingBody | None:
        """The body stored as `value`, or None (certificates of completion and older ones store "")."""
        return next((body for body in cls if body.value == value), None)

    @property
    def full_name(self) -> str:
        return {
            "apa": "the American Psychological Association",
            "aswb": "the Association of Social Work Boards (ASWB) Approved Continuing Education (ACE) program",
            "nasw": "the National Association of Social Workers",
            "nbcc": "the National Board for Certified Counselors",
            "ca_bbs": "the California Board of Behavioral Sciences",
        }[self.value]


class CEFormat(enum.Enum):
    """How a program is delivered, as the bodies approve it: each format is approved on its own."""

    LIVE_IN_PERSON = "live_in_person"
    LIVE_WEBINAR = "live_webinar"
    SELF_PACED = "self_paced"

    @property
    def label(self) -> str:
        return {
            "live_in_person": "Live, in person",
            "live_webinar": "Live interactive webinar",
            "self_paced": "Self-paced (home study)",
        }[self.value]

    @property
    def in_words(self) -> str:
        """The format inside a sentence, as statements and certificates print it."""
        return {
            "live_in_person": "live, in person",
            "live_webinar": "live interactive webinar",
            "self_paced": "self-paced home study",
        }[self.value]

    @property
    def is_live(self) -> bool:
        return self is not CEFormat.SELF_PACED


class InstructionalLevel(enum.Enum):
    INTRODUCTORY = "introductory"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class CECategory(enum.Enum):
    """The credit category certificates state (boards count some, such as ethics, apart)."""

    CLINICAL = "clinical"
    ETHICS = "ethics"
    CULTURAL = "cultural"
    SUPERVISION = "supervision"
    LAW = "law"
    SUICIDE = "suicide"
    GENERAL = "general"

    @property
    def label(self) -> str:
        return {
            "clinical": "Clinical practice",
            "ethics": "Ethics",
            "cultural": "Cultural competence",
            "supervision": "Clinical supervision",
            "law": "Law and regulation",
            "suicide": "Suicide assessment and prevention",
            "general": "General",
        }[self.value]


# The statement a body's approval asks providers to print; {provider}, {number}, {hours}, {format},
# {period_start} and {period_end} are filled in. The creator may change the wording their approval letter gives.
DEFAULT_STATEMENTS = {
    AccreditingBody.APA: (
        "{provider} is approved by the American Psychological Association to sponsor continuing education for "
        "psychologists. {provider} maintains responsibility for this program and its content. "
        "This program offers {hours} CE credits."
    ),
    AccreditingBody.ASWB: (
        "{provider}, provider #{number}, is approved as an ACE provider to offer social work continuing "
        "education by the Association of Social Work Boards (ASWB) Approved Continuing Education (ACE) "
        "program. Regulatory boards are the final authority on courses accepted for continuing education "
        "credit. ACE provider approval period: {period_start} – {period_end}. Social workers completing this "
        "course receive {hours} continuing education credits ({format})."
    ),
    AccreditingBody.NASW: (
        "This program is approved by the National Association of Social Workers (Approval #{number}) for "
        "{hours} continuing education contact hours."
    ),
    AccreditingBody.NBCC: (
        "{provider} has been approved by NBCC as an Approved Continuing Education Provider, ACEP No. {number}. "
        "Programs that do not qualify for NBCC credit are clearly identified. {provider} is solely responsible "
        "for all aspects of the programs. This program offers {hours} clock hours."
    ),
    AccreditingBody.CA_BBS: (
        "{provider}, provider #{number}, is approved to provide continuing education for LMFTs, LCSWs, LPCCs "
        "and LEPs in California. This course meets the qualifications for {hours} hours of continuing "
        "education as required by the California Board of Behavioral Sciences."
    ),
}


class ProviderApproval(Model):
    """One period of a body's approval of a creator as a CE provider: its number, its dates and the formats approved."""

    __tablename__ = "provider_approvals"
    __table_args__ = (
        # A body renews an approval for a new period: each period is kept, so the current one runs to its end.
        sa.UniqueConstraint("creator_id", "body", "approved_from", name="uq_provider_approvals_creator_body_from"),
        sa.CheckConstraint("approved_until >= approved_from", name="period_in_order"),
        sa.CheckConstraint("live_in_person OR live_webinar OR self_paced", name="some_format"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    creator_id: Mapped[int] = mapped_column(sa.ForeignKey("creator_profiles.id", ondelete="CASCADE"), index=True)
    body: Mapped[AccreditingBody] = mapped_column(enum_column(AccreditingBody, "accrediting_body"))
    provider_number: Mapped[str] = mapped_column(sa.String(60))
    approved_from: Mapped[date] = mapped_column(sa.Date)
    approved_until: Mapped[date] = mapped_column(sa.Date)
    live_in_person: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    live_webinar: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    self_paced: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    statement: Mapped[str] = mapped_column(sa.Text)
    # When the "your approval ends in 60 days" e-mail went out for this period (a new period sends it again).
    expiry_warned_for: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    creator: Mapped[CreatorProfile] = relationship()

    @property
    def formats(self) -> list[CEFormat]:
        return [kind for kind in CEFormat if getattr(self, kind.value)]

    def covers(self, day: date) -> bool:
        return self.approved_from <= day <= self.approved_until


class CEClaim(Model):
    """An offering's claim of CE credit from one body (the creator must hold that body's approval)."""

    __tablename__ = "ce_claims"
    __table_args__ = (sa.UniqueConstraint("course_id", "body", name="uq_ce_claims_course_body"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column("course_id", sa.ForeignKey("courses.id", ondelete="CASCADE"))
    body: Mapped[AccreditingBody] = mapped_column(enum_column(AccreditingBody, "accrediting_body"))

    offering: Mapped[Offering] = relationship(back_populates="ce_claims")


class Profession(enum.Enum):
    """The profession a learner is licensed in: it decides which body's credit their certificate states."""

    SOCIAL_WORK = "social_work"
    COUNSELING = "counseling"
    MARRIAGE_FAMILY = "marriage_family"
    PSYCHOLOGY = "psychology"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "social_work": "Social work (LCSW, LMSW, LSW…)",
            "counseling": "Counseling (LPC, LPCC, LMHC, NCC…)",
            "marriage_family": "Marriage and family therapy (LMFT…)",
            "psychology": "Psychology",
            "other": "Another profession",
        }[self.value]


CALIFORNIA = frozenset({"ca", "california", "calif.", "calif"})
# The bodies whose credit each profession's licensing boards accept, most specific first.
BODIES_OF = {
    Profession.SOCIAL_WORK: (AccreditingBody.ASWB, AccreditingBody.NASW),
    Profession.COUNSELING: (AccreditingBody.NBCC,),
    Profession.MARRIAGE_FAMILY: (),
    Profession.PSYCHOLOGY: (AccreditingBody.APA,),
    Profession.OTHER: (),
}
# California's board licenses social workers, counselors and family therapists itself.
CALIFORNIA_BOARD_PROFESSIONS = frozenset({Profession.SOCIAL_WORK, Profession.COUNSELING, Profession.MARRIAGE_FAMILY})


class LearnerLicence(Model):
    """A licence a learner holds (several allowed): what their CE certificates state and answer to."""

    __tablename__ = "learner_licences"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "licence_type", "jurisdiction", name="uq_learner_licences_type_place"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    profession: Mapped[Profession] = mapped_column(enum_column(Profession, "profession"))
    licence_type: Mapped[str] = mapped_column(sa.String(40))  # LCSW, LPC, Psychologist…
    number: Mapped[str] = mapped_column(sa.String(60))
    jurisdiction: Mapped[str] = mapped_column(sa.String(60))  # the state or province that issued it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def bodies(self) -> tuple[AccreditingBody, ...]:
        """The bodies whose credit this licence's board accepts, the one it answers to first."""
        board = (
            (AccreditingBody.CA_BBS,)
            if self.jurisdiction.strip().lower() in CALIFORNIA and self.profession in CALIFORNIA_BOARD_PROFESSIONS
            else ()
        )
        return board + BODIES_OF[self.profession]

    def __str__(self) -> str:
        return f"{self.licence_type} {self.number}, {self.jurisdiction}"


class CESnapshot(Model):
    """A CE offering's description and CE details as they stood at a moment (publishing, or a change after it),
    for the provider's audit pack: what learners were shown on each date."""

    __tablename__ = "ce_snapshots"
    __table_args__ = (sa.Index("ix_ce_snapshots_course_taken", "course_id", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column("course_id", sa.ForeignKey("courses.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    occasion: Mapped[str] = mapped_column(sa.String(60))  # "published", "CE details changed", "details changed"
    content: Mapped[dict] = mapped_column(sa.JSON)
