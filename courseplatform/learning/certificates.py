"""The road from finishing an offering to holding its certificate.

The order CE sites use: content (every lesson done, every quiz passed) → live
attendance when the creator requires a minimum → evaluation → attestation →
certificate. Offerings without CE hours skip the evaluation and attestation: the
learner claims a certificate of completion once the content (and attendance) is done.

Functions flush and never commit; the request commits once.
"""

from __future__ import annotations

import csv
import enum
import io
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, joinedload

from ..certificate_trail import record_certificate
from ..continuing_education import certificate_fields, creator_today, licences_of
from ..downloads import spreadsheet_safe
from ..extensions import db
from ..formatting import zone_or_utc
from ..links import absolute_url
from ..models import (
    AccreditingBody,
    Certificate,
    Enrollment,
    EnrollmentStatus,
    Offering,
    OfferingEvaluation,
    SupersededCertificate,
    User,
    utcnow,
)
from ..pagination import Page, paginate
from .progress import AttendanceSummary, attendance_summary, content_is_done, lesson_counts, update_completion


class Step(enum.Enum):
    CONTENT = "content"
    ATTENDANCE = "attendance"
    EVALUATION = "evaluation"
    ATTESTATION = "attestation"
    # Offerings without CE hours: ready to claim the certificate of completion.
    CLAIM = "claim"
    ISSUED = "issued"


@dataclass(frozen=True)
class Completion:
    """Where a learner stands on the way to the certificate, and what they have handed in so far."""

    step: Step
    attendance: AttendanceSummary | None
    evaluation: OfferingEvaluation | None
    certificate: Certificate | None
    # The steps this offering asks for, in order (attendance and the CE steps only when they apply).
    steps: tuple[Step, ...] = ()

    def is_done(self, step: Step) -> bool:
        """True when `step` lies behind the learner."""
        return step in self.steps and self.steps.index(step) < self.steps.index(self.step)


def steps_of(offering: Offering) -> tuple[Step, ...]:
    """The steps to the certificate of this offering, in order."""
    steps = [Step.CONTENT]
    if offering.min_attendance_percent:
        steps.append(Step.ATTENDANCE)
    steps += [Step.EVALUATION, Step.ATTESTATION] if offering.ce_minutes else [Step.CLAIM]
    return (*steps, Step.ISSUED)


def completion_of(enrollment: Enrollment) -> Completion:
    """The learner's next step towards the certificate (two queries; three with an attendance minimum).

    Content counts the lessons as they are now: a lesson added after the learner finished is
    needed too, and a lesson deleted no longer is.
    """
    offering = enrollment.offering
    evaluation, certificate = db.session.execute(
        sa.select(OfferingEvaluation, Certificate)
        .select_from(Enrollment)
        .outerjoin(OfferingEvaluation, OfferingEvaluation.enrollment_id == Enrollment.id)
        .outerjoin(Certificate, Certificate.enrollment_id == Enrollment.id)
        .where(Enrollment.id == enrollment.id)
    ).one()
    attendance = attendance_summary(enrollment) if offering.min_attendance_percent else None
    if certificate is not None:
        step = Step.ISSUED
    elif not content_is_done(*lesson_counts(enrollment)):
        step = Step.CONTENT
    elif attendance is not None and not attendance.is_enough:
        step = Step.ATTENDANCE
    elif offering.ce_minutes is None:
        step = Step.CLAIM
    elif evaluation is None:
        step = Step.EVALUATION
    else:  # attested but not issued happens only if issuing failed half-way; signing again is safe
        step = Step.ATTESTATION
    return Completion(step, attendance, evaluation, certificate, steps_of(offering))


# ---------------------------------------------------------------------------
# The evaluation and the attestation (offerings with CE hours)
# ---------------------------------------------------------------------------

# Stable keys: stored in OfferingEvaluation.ratings; the wording may be polished, the keys never change.
EVALUATION_STATEMENTS: list[tuple[str, str]] = [
    ("objectives_met", "The learning objectives were met."),
    ("relevant_to_practice", "The content was relevant to my practice."),
    ("presenter_effective", "The presenter was knowledgeable and effective."),
    ("methods_effective", "The teaching methods and materials were effective."),
    ("free_of_commercial_bias", "The activity was free of commercial bias."),
]
RATINGS: list[tuple[int, str]] = [
    (1, "Strongly disagree"),
    (2, "Disagree"),
    (3, "Neutral"),
    (4, "Agree"),
    (5, "Strongly agree"),
]
RATING_LABELS = dict(RATINGS)
# Where an evaluation keeps the rating of each learning objective: [{"text": …, "rating": 1..5}, …].
OBJECTIVES = "objectives"
MAX_COMMENTS = 2000


def ce_hours_label(minutes: int | None) -> str:
    """`180` → `3 CE hours`; `90` → `1.5 CE hours`; `60` → `1 CE hour`; `45` → `0.75 CE hours`."""
    if not minutes:
        return ""
    hours = f"{minutes / 60:.2f}".rstrip("0").rstrip(".")
    return f"{hours} CE hour" if hours == "1" else f"{hours} CE hours"


def attestation_text(enrollment: Enrollment) -> str:
    """The statement the learner signs, naming them, the offering and the hours claimed."""
    offering = enrollment.offering
    return (
        f"I attest that I, {enrollment.user.name}, completed the entire activity, {offering.title}, "
        f"and that I am claiming {ce_hours_label(offering.ce_minutes)} commensurate with my participation."
    )


def submit_evaluation(
    enrollment: Enrollment,
    ratings: dict[str, int],
    comments: str = "",
    now: datetime | None = None,
    objectives: list[tuple[str, int]] | None = None,
) -> OfferingEvaluation:
    """Record the learner's evaluation (flushed); a second submission racing the first keeps the first.

    `objectives` rates each learning objective as the learner read it: kept with its words, under
    OBJECTIVES, so a later edit of the objectives doesn't change what was rated.
    """
    stored: dict = {key: int(ratings[key]) for key, _ in EVALUATION_STATEMENTS}
    if objectives:
        stored[OBJECTIVES] = [{"text": text, "rating": int(rating)} for text, rating in objectives]
    evaluation = OfferingEvaluation(
        enrollment_id=enrollment.id,
        ratings=stored,
        comments=(comments or "").strip()[:MAX_COMMENTS],
        submitted_at=now or utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(evaluation)
    except IntegrityError:
        return db.session.scalars(
            sa.select(OfferingEvaluation).where(OfferingEvaluation.enrollment_id == enrollment.id)
        ).one()
    return evaluation


def sign_attestation(
    enrollment: Enrollment, evaluation: OfferingEvaluation, now: datetime | None = None
) -> Certificate:
    """Keep the attestation word for word with its time, then issue the certificate (flushed)."""
    if evaluation.attested_at is None:
        evaluation.attestation_text = attestation_text(enrollment)
        evaluation.attested_at = now or utcnow()
        db.session.flush()
    return issue_certificate(enrollment, now)


# ---------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------


def new_certificate_number() -> str:
    """An unguessable, readable number such as `AQ-7KD3-QX9M-2F4T` (no 0/O or 1/I to misread)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    groups = ["".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3)]
    return "AQ-" + "-".join(groups)


def _certificate_of(enrollment: Enrollment) -> Certificate | None:
    return db.session.scalar(sa.select(Certificate).where(Certificate.enrollment_id == enrollment.id))


def issue_certificate(enrollment: Enrollment, now: datetime | None = None) -> Certificate:
    """Issue the learner's certificate (flushed), copying what it states so later edits never change it.

    Callers check `completion_of(...)` first. Issuing twice, even from two requests racing
    on the one-certificate-per-enrollment rule, returns the certificate issued first.
    """
    existing = _certificate_of(enrollment)
    if existing is not None:
        return existing
    update_completion(enrollment, now)  # the date, if a deleted lesson or a race left it unset
    offering = enrollment.offering
    creator = offering.creator
    for _ in range(3):  # a clash of random numbers is all but impossible; try again if it happens
        certificate = Certificate(
            number=_unused_number(),
            enrollment_id=enrollment.id,
            learner_name=enrollment.user.name,
            offering_title=offering.title,
            creator_name=creator.display_name,
            creator_credentials=creator.credentials or "",
            ce_minutes=offering.ce_minutes,
            # The approval must have covered the day the learner completed the program, where the creator lives.
            **certificate_fields(
                offering,
                licences_of(enrollment.user),
                creator_today(creator, enrollment.completed_at or now or utcnow()),
            ),
            issued_at=now or utcnow(),
        )
        try:
            with db.session.begin_nested():
                db.session.add(certificate)
            return certificate
        except IntegrityError:
            existing = _certificate_of(enrollment)
            if existing is not None:
                return existing
    raise RuntimeError("could not find a free certificate number")


def my_certificates(user: User) -> list[Certificate]:
    """The certificates of the learner's active enrollments, newest first, with their offering (one query)."""
    return list(
        db.session.scalars(
            sa.select(Certificate)
            .join(Certificate.enrollment)
            .join(Enrollment.offering)
            .where(Enrollment.user_id == user.id, Enrollment.status == EnrollmentStatus.ACTIVE)
            .options(contains_eager(Certificate.enrollment).contains_eager(Enrollment.offering))
            .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
        )
    )


def certificate_by_number(number: str) -> Certificate | None:
    """A certificate by its number, with its enrollment, learner and offering (one query)."""
    return db.session.scalar(
        sa.select(Certificate)
        .where(Certificate.number == number)
        .options(
            joinedload(Certificate.enrollment).options(joinedload(Enrollment.user), joinedload(Enrollment.offering))
        )
    )


def verification_url(certificate: Certificate) -> str:
    """The public page that verifies the certificate, as an absolute link (printed on the PDF)."""
    return absolute_url("certificates.verify", number=certificate.number)


def learner_enrollment(user: User, slug: str) -> Enrollment | None:
    """The user's active enrollment in the offering named by `slug`, with the offering and its creator."""
    return db.session.scalar(
        sa.select(Enrollment)
        .join(Enrollment.offering)
        .where(Offering.slug == slug, Enrollment.user_id == user.id, Enrollment.status == EnrollmentStatus.ACTIVE)
        .options(contains_eager(Enrollment.offering).joinedload(Offering.creator), joinedload(Enrollment.user))
    )


# ---------------------------------------------------------------------------
# The CE wallet
# ---------------------------------------------------------------------------

WALLET_PAGE = 50


@dataclass(frozen=True)
class CreditTotal:
    """CE hours earned on Aqueduct under one body and category."""

    body: str  # the body's label, or "" for certificates that answer to none
    category: str
    certificates: int
    minutes: int


def _ce_certificates(user: User) -> sa.Select:
    """The learner's CE certificates that stand: active enrollment, not revoked, with hours."""
    return (
        sa.select(Certificate)
        .join(Certificate.enrollment)
        .where(
            Enrollment.user_id == user.id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Certificate.revoked_at.is_(None),
            Certificate.ce_minutes.is_not(None),
        )
    )


def ce_totals(user: User) -> list[CreditTotal]:
    """Hours by body and category over every CE certificate of the learner (one query)."""
    statement = _ce_certificates(user).with_only_columns(
        Certificate.ce_body,
        Certificate.ce_category,
        sa.func.count(Certificate.id),
        sa.func.coalesce(sa.func.sum(Certificate.ce_minutes), 0),
    )
    rows = db.session.execute(statement.group_by(Certificate.ce_body, Certificate.ce_category)).all()
    return sorted(
        (
            CreditTotal(_label(body), category or "", int(count), int(minutes or 0))
            for body, category, count, minutes in rows
        ),
        key=lambda total: (total.body == "", total.body, total.category),
    )


def _label(value: str | None) -> str:
    body = AccreditingBody.of(value or "")
    return body.label if body else ""


def ce_wallet_page(user: User, page: int) -> Page[Certificate]:
    """A page of the learner's CE certificates, newest first."""
    return paginate(
        _ce_certificates(user)
        .options(contains_eager(Certificate.enrollment))  # its completion day, without a query a row
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc()),
        page,
        WALLET_PAGE,
    )


@dataclass(frozen=True)
class WalletLine:
    """One CE certificate as a licence renewal lists it (the CSV's row, the transcript's line)."""

    completed_on: str  # ISO date, in the learner's zone
    title: str
    hours: str
    body: str
    category: str
    format: str
    licence: str
    provider: str
    provider_number: str
    number: str
    verify_at: str


def ce_wallet_lines(user: User) -> list[WalletLine]:
    """Every CE certificate of the learner that stands, oldest first (one query)."""
    certificates = db.session.scalars(
        _ce_certificates(user)
        .options(contains_eager(Certificate.enrollment))
        .order_by(Certificate.issued_at, Certificate.id)
    )
    return [
        WalletLine(
            completion_day(certificate, user.time_zone),
            certificate.offering_title,
            f"{(certificate.ce_minutes or 0) / 60:g}",
            certificate.ce_body_label,
            certificate.ce_category,
            certificate.ce_format,
            certificate.learner_licence,
            certificate.provider_name,
            certificate.provider_number,
            certificate.number,
            verification_url(certificate),
        )
        for certificate in certificates
    ]


def ce_wallet_csv(user: User) -> str:
    """Every CE certificate of the learner, for a licence renewal: one row each."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["completed_on", "title", "hours", "body", "category", "format", "licence", "provider", "provider_number",
         "certificate_number", "verify_at"]
    )  # fmt: skip
    for line in ce_wallet_lines(user):
        writer.writerow(
            [
                line.completed_on,
                *(
                    spreadsheet_safe(text)
                    for text in (
                        line.title, line.hours, line.body, line.category, line.format, line.licence, line.provider,
                        line.provider_number,
                    )
                ),
                line.number,
                line.verify_at,
            ]
        )  # fmt: skip
    return out.getvalue()


def completion_day(certificate: Certificate, zone: str) -> str:
    """The day the learner completed the program, in their zone (the issue day on older certificates)."""
    completed = certificate.enrollment.completed_at or certificate.issued_at
    return completed.astimezone(zone_or_utc(zone)).date().isoformat()


# ---------------------------------------------------------------------------
# Corrections
# ---------------------------------------------------------------------------


class CorrectionRefused(Exception):
    """The correction can't be made; the message says why."""


def correct_certificate(
    certificate: Certificate, *, learner_name: str, learner_licence: str, reason: str, by: User
) -> SupersededCertificate:
    """Reissue the certificate with the learner's name or licence corrected, under a new number.

    The old number stays verifiable and says it was superseded (and by which number); the trail
    records who corrected what and why. A revoked certificate isn't corrected: reissue it first.
    """
    learner_name, learner_licence = learner_name.strip(), learner_licence.strip()
    if certificate.is_revoked:
        raise CorrectionRefused("This certificate is revoked: reissue it before correcting it.")
    if (learner_name, learner_licence) == (certificate.learner_name, certificate.learner_licence):
        raise CorrectionRefused("Nothing changed: correct the name or the licence, or leave it as it is.")
    old = SupersededCertificate(
        number=certificate.number,
        certificate_id=certificate.id,
        learner_name=certificate.learner_name,
        learner_licence=certificate.learner_licence,
        issued_at=certificate.reissued_at or certificate.issued_at,
    )
    changed = [
        (label, before, after)
        for label, before, after in (
            ("name", certificate.learner_name, learner_name),
            ("licence", certificate.learner_licence, learner_licence),
        )
        if before != after
    ]
    changes = [f"{label} “{before}” → “{after}”" for label, before, after in changed]
    if sum(map(len, changes)) > 400:  # the words before are on the SupersededCertificate: keep what they became
        changes = [f"{label} → “{after}”" for label, _before, after in changed]
    try:
        with db.session.begin_nested():
            db.session.add(old)
            db.session.flush()  # the old number is claimed first: a correction racing this one stops here
            certificate.number = _unused_number()
            certificate.learner_name = learner_name
            certificate.learner_licence = learner_licence
            certificate.reissued_at = utcnow()
            db.session.flush()
    except IntegrityError as exc:
        raise CorrectionRefused("This certificate was corrected a moment ago: reload the page to see it.") from exc
    record_certificate(
        certificate, "corrected", f"{old.number} → {certificate.number}: {'; '.join(changes)}.", reason=reason, actor=by
    )
    return old


def _unused_number() -> str:
    """A certificate number no certificate has, nor had."""
    while True:
        number = new_certificate_number()
        taken = db.session.scalar(
            sa.select(sa.literal(True)).where(
                sa.or_(
                    sa.exists().where(Certificate.number == number),
                    sa.exists().where(SupersededCertificate.number == number),
                )
            )
        )
        if not taken:
            return number


def superseded_by_number(number: str) -> SupersededCertificate | None:
    """An old number of a corrected certificate, with the certificate it became (one query)."""
    return db.session.scalar(
        sa.select(SupersededCertificate)
        .where(SupersededCertificate.number == number)
        .options(joinedload(SupersededCertificate.certificate))
    )
