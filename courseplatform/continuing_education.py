"""Continuing education as learners and the public see it: the credit an offering carries, from which body,
with the statement the body's approval asks for. The studio records approvals and claims
(`studio/ce`) and checks them at publish (`studio/offerings/ce_rules.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app

from .extensions import db
from .formatting import zone_or_utc
from .models import (
    AccreditingBody,
    Attendance,
    CEFormat,
    Certificate,
    CESnapshot,
    CreatorProfile,
    Enrollment,
    LearnerLicence,
    LiveCheckIn,
    Offering,
    OfferingKind,
    ProviderApproval,
    QuizAttempt,
    User,
    utcnow,
)

PLACEHOLDERS = ("provider", "number", "hours", "format", "period_start", "period_end")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def approvals_of(profile: CreatorProfile) -> list[ProviderApproval]:
    """The creator's approvals in the bodies' order, each body's periods oldest first."""
    found = db.session.scalars(sa.select(ProviderApproval).where(ProviderApproval.creator_id == profile.id))
    order = list(AccreditingBody)
    return sorted(found, key=lambda approval: (order.index(approval.body), approval.approved_from))


def format_of(offering: Offering) -> CEFormat:
    """The format the offering is delivered in: its own choice, or what its kind says."""
    if offering.ce_format is not None:
        return offering.ce_format
    return CEFormat.LIVE_WEBINAR if offering.kind is OfferingKind.LIVE_WORKSHOP else CEFormat.SELF_PACED


def creator_today(profile: CreatorProfile, now: datetime | None = None) -> date:
    """The day it is (or was at `now`) where the creator lives: approvals cover whole days of their calendar."""
    return (now or utcnow()).astimezone(zone_or_utc(profile.user.time_zone)).date()


def provider_name(profile: CreatorProfile) -> str:
    return profile.ce_provider_name or profile.display_name


def fill(template: str, values: dict[str, str]) -> str:
    """The statement with its placeholders filled in; unknown braces are left as written."""
    return PLACEHOLDER.sub(lambda match: values.get(match[1], match[0]), template)


@dataclass(frozen=True)
class ApprovedCredit:
    """One body's credit for an offering, as the offering page and certificates state it."""

    body: AccreditingBody
    provider_number: str
    statement: str
    period: str = ""  # "January 1, 2026 – December 31, 2028"


def approved_credits(offering: Offering, today: date) -> list[ApprovedCredit]:
    """The offering's claims whose approval covers today and its format, each with its statement filled in."""
    if not offering.ce_minutes or not offering.ce_claims:
        return []
    approvals = {approval.body: approval for approval in approvals_of(offering.creator) if approval.covers(today)}
    fmt = format_of(offering)
    credits = []
    for claim in offering.ce_claims:
        approval = approvals.get(claim.body)
        if approval is None or not approval.covers(today) or fmt not in approval.formats:
            continue
        values = {
            "provider": provider_name(offering.creator),
            "number": approval.provider_number,
            "hours": f"{offering.ce_minutes / 60:g}",
            "format": fmt.in_words,
            "period_start": f"{approval.approved_from:%B %-d, %Y}",
            "period_end": f"{approval.approved_until:%B %-d, %Y}",
        }
        period = f"{values['period_start']} – {values['period_end']}"
        credits.append(ApprovedCredit(claim.body, approval.provider_number, fill(approval.statement, values), period))
    return credits


def licences_of(user: User) -> list[LearnerLicence]:
    """The learner's licences, in the order they were recorded."""
    return list(
        db.session.scalars(
            sa.select(LearnerLicence).where(LearnerLicence.user_id == user.id).order_by(LearnerLicence.id)
        )
    )


def certificate_fields(offering: Offering, licences: list[LearnerLicence], today: date) -> dict[str, str]:
    """What a CE certificate states, copied onto it at issue.

    The certificate answers to the body the learner's licence answers to (a social worker's to ASWB
    or NASW, a counselor's to NBCC, a California clinician's to the BBS), with that licence and the
    body's statement, provider number and approval period. A learner whose licences answer to none
    of the bodies claimed gets every body's statement, under their first licence.
    """
    if not offering.ce_minutes:
        return {"ce_approval_statement": ""}
    credits = approved_credits(offering, today)
    fields = {
        "ce_format": format_of(offering).label,
        "ce_category": offering.ce_category.label if offering.ce_category else "",
        "presenters": "; ".join(offering.presenters),
        "provider_name": provider_name(offering.creator) if credits else "",
        "learner_licence": str(licences[0]) if licences else "",
    }
    by_body = {credit.body: credit for credit in credits}
    for licence in licences:
        credit = next((by_body[body] for body in licence.bodies if body in by_body), None)
        if credit is not None:
            return fields | {
                "learner_licence": str(licence),
                "ce_body": credit.body.value,
                "provider_number": credit.provider_number,
                "approval_period": credit.period,
                "ce_approval_statement": credit.statement,
            }
    if credits:
        return fields | {"ce_approval_statement": "\n\n".join(credit.statement for credit in credits)}
    # An offering from before approvals were recorded states its own words.
    return fields | {"ce_approval_statement": "" if offering.ce_claims else offering.ce_approval_statement}


class LicenceError(Exception):
    """The licence can't be recorded; the message says why."""


def add_licence(user: User, values: dict) -> LearnerLicence:
    """Record a licence the learner holds; the same licence type in the same place is refused."""
    held = db.session.scalar(
        sa.select(LearnerLicence).where(
            LearnerLicence.user_id == user.id,
            sa.func.lower(LearnerLicence.licence_type) == values["licence_type"].lower(),
            sa.func.lower(LearnerLicence.jurisdiction) == values["jurisdiction"].lower(),
        )
    )
    if held is not None:
        raise LicenceError(f"You already have your {held.licence_type} of {held.jurisdiction} on record.")
    licence = LearnerLicence(user_id=user.id, **values)
    db.session.add(licence)
    db.session.flush()
    return licence


def owned_licence(user: User, licence_id: int) -> LearnerLicence | None:
    return db.session.scalar(
        sa.select(LearnerLicence).where(LearnerLicence.id == licence_id, LearnerLicence.user_id == user.id)
    )


def ce_content(offering: Offering, today: date) -> dict:
    """What a CE offering shows learners and what it claims, as plain data for a snapshot."""
    profile = offering.creator
    approvals = [approval for approval in approvals_of(profile) if approval.covers(today)]
    return {
        "title": offering.title,
        "subtitle": offering.subtitle,
        "description": offering.description,
        "ce_hours": (offering.ce_minutes or 0) / 60,
        "format": format_of(offering).label,
        "level": offering.ce_level.label if offering.ce_level else "",
        "category": offering.ce_category.label if offering.ce_category else "",
        "audience": offering.ce_audience,
        "objectives": offering.objectives,
        "presenters": offering.presenters,
        "disclosure": offering.ce_disclosure,
        "claims": [claim.body.label for claim in offering.ce_claims],
        "approvals": [
            {
                "body": approval.body.label,
                "number": approval.provider_number,
                "period": f"{approval.approved_from.isoformat()} – {approval.approved_until.isoformat()}",
                "formats": [kind.label for kind in approval.formats],
            }
            for approval in approvals
            if approval.body in {claim.body for claim in offering.ce_claims}
        ],
        "statements": [credit.statement for credit in approved_credits(offering, today)],
        "provider": provider_name(profile),
        "policies": {
            "refund": profile.ce_refund_policy,
            "grievance": profile.ce_grievance_policy,
            "accommodation": profile.ce_accommodation_policy,
        },
    }


def snapshot_ce(offering: Offering, occasion: str) -> CESnapshot | None:
    """Keep what a published CE offering shows at this moment (flushed); nothing for an offering without CE,
    nor when nothing changed since the last snapshot."""
    if not offering.ce_minutes:
        return None
    content = ce_content(offering, creator_today(offering.creator))
    last = db.session.scalar(
        sa.select(CESnapshot.content)
        .where(CESnapshot.offering_id == offering.id)
        .order_by(CESnapshot.taken_at.desc(), CESnapshot.id.desc())
        .limit(1)
    )
    if last == content:
        return None
    snapshot = CESnapshot(offering_id=offering.id, occasion=occasion, content=content)
    db.session.add(snapshot)
    db.session.flush()
    return snapshot


# ---------------------------------------------------------------------------
# Records retention: an accrediting body's auditor asks for attendance, post-test attempts and
# certificates years later, so nothing holding them is deleted while they must be kept.


def retention_ends(issued: datetime) -> date:
    """The last day a record made at `issued` must be kept: CE_RECORDS_RETENTION_YEARS later."""
    day, years = issued.date(), current_app.config["CE_RECORDS_RETENTION_YEARS"]
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # February 29 in a year without one
        return day.replace(year=day.year + years, day=28)


def records_kept_until(offering: Offering, today: date | None = None) -> date | None:
    """The last day the offering's CE records must be kept: `date.max` while it claims CE, else
    CE_RECORDS_RETENTION_YEARS after its last CE certificate; None when nothing must be kept any more."""
    if offering.ce_minutes or offering.ce_claims:
        return date.max
    return kept_for_certificates(Offering.id == offering.id, today=today)


def kept_for_certificates(*where: sa.ColumnElement[bool], today: date | None = None) -> date | None:
    """The last day records must be kept for the CE certificates that match `where` (on Certificate and their
    Offering): CE_RECORDS_RETENTION_YEARS after the last of them; None without any, or once that is past."""
    last = db.session.scalar(
        sa.select(sa.func.max(Certificate.issued_at))
        .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
        .join(Offering, Offering.id == Enrollment.offering_id)
        .where(Certificate.ce_minutes.is_not(None), *where)
    )
    if last is None:
        return None
    until = retention_ends(last)
    return until if until >= (today or utcnow().date()) else None


def kept_records(offering: Offering, *, session_ids=(), lesson_ids=()) -> str | None:
    """Why deleting these live sessions or lessons of `offering` would lose CE records it must keep, in the
    creator's words; None when they hold none (or the retention period is over)."""
    kinds = []
    session_ids, lesson_ids = list(session_ids), list(lesson_ids)
    if session_ids:
        attended = sa.exists().where(Attendance.live_session_id.in_(session_ids))
        checked_in = sa.exists().where(LiveCheckIn.live_session_id.in_(session_ids))
        if db.session.scalar(sa.select(sa.or_(attended, checked_in))):
            kinds.append("attendance")
    if lesson_ids and db.session.scalar(sa.select(sa.exists().where(QuizAttempt.lesson_id.in_(lesson_ids)))):
        kinds.append("post-test attempts")
    if not kinds:
        return None
    until = records_kept_until(offering)
    if until is None:
        return None
    years = current_app.config["CE_RECORDS_RETENTION_YEARS"]
    when = (
        f"while the offering carries CE and for {years} years after its last CE certificate"
        if until == date.max
        else f"until {until:%B %-d, %Y}"
    )
    return (
        f"It holds learners' {' and '.join(kinds)}: CE records, which accrediting bodies' audits ask you to keep "
        f"{when}. It can't be deleted before then; rename or move it instead."
    )
