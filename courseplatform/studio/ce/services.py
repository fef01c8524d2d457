"""A creator's CE approvals and policies, and an offering's CE details: the services behind the studio's CE pages.

Services only flush; the view commits. Every query is scoped to one creator.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import render_template

from ...continuing_education import kept_for_certificates
from ...downloads import spreadsheet_safe
from ...extensions import db
from ...integrations.mail import send_after_commit
from ...learning.certificates import EVALUATION_STATEMENTS, OBJECTIVES
from ...links import absolute_url
from ...models import (
    DEFAULT_STATEMENTS,
    AccreditingBody,
    CECategory,
    CEClaim,
    CEFormat,
    Certificate,
    CreatorProfile,
    Enrollment,
    InstructionalLevel,
    Offering,
    OfferingEvaluation,
    OfferingStatus,
    ProviderApproval,
)


def owned_approval(profile: CreatorProfile, approval_id: int) -> ProviderApproval | None:
    return db.session.scalar(
        sa.select(ProviderApproval).where(ProviderApproval.id == approval_id, ProviderApproval.creator_id == profile.id)
    )


class ApprovalKept(ValueError):
    """An approval certificates were issued under, within the records' retention period."""


def kept_until(approval: ProviderApproval) -> date | None:
    """The last day an approval CE certificates were issued under must be kept, or None (one query).

    A certificate names its approval by body and provider number; one whose learner's licences answer
    to none of the claimed bodies names no body, and carries the number in its statements instead.
    """
    number = approval.provider_number
    issued_under = sa.and_(Certificate.ce_body == approval.body.value, Certificate.provider_number == number)
    named_in_statement = sa.and_(Certificate.ce_body == "", Certificate.ce_approval_statement.contains(number))
    return kept_for_certificates(
        Offering.creator_id == approval.creator_id,
        sa.or_(issued_under, named_in_statement) if number else issued_under,
    )


def save_approval(profile: CreatorProfile, values: dict) -> tuple[ProviderApproval, bool]:
    """Record a period of a body's approval, or update the period on record it overlaps; (approval, created).

    A renewal (a period after the one on record) is kept beside it, so the current period runs to its end.
    """
    body = AccreditingBody(values["body"])
    approval = db.session.scalar(
        sa.select(ProviderApproval)
        .where(
            ProviderApproval.creator_id == profile.id,
            ProviderApproval.body == body,
            ProviderApproval.approved_from <= values["approved_until"],
            ProviderApproval.approved_until >= values["approved_from"],
        )
        .order_by(ProviderApproval.approved_from.desc())
        .limit(1)
    )
    created = approval is None
    number = values["provider_number"].strip()
    if approval is not None and number != approval.provider_number:
        until = kept_until(approval)
        if until is not None:
            raise ApprovalKept(
                f"Certificates were issued under your {body.label} provider number {approval.provider_number}, "
                f"so that approval is part of your CE records until {until:%B %-d, %Y} and keeps its number. If "
                "the body gave you a new number, record it with the period it starts on."
            )
    if approval is None:
        approval = ProviderApproval(creator_id=profile.id, body=body)
        db.session.add(approval)
    if not created and values["approved_until"] != approval.approved_until:
        approval.expiry_warned_for = None  # a renewed period gets its own warning
    approval.provider_number = number
    approval.approved_from = values["approved_from"]
    approval.approved_until = values["approved_until"]
    for kind in CEFormat:
        setattr(approval, kind.value, bool(values[kind.value]))
    approval.statement = (values.get("statement") or "").strip() or DEFAULT_STATEMENTS[body]
    db.session.flush()
    return approval, created


def delete_approval(approval: ProviderApproval) -> None:
    """Remove an approval; offerings that claim it can't be published with that claim until it is back.

    An approval that CE certificates were issued under is a CE record: kept (ApprovalKept) until
    CE_RECORDS_RETENTION_YEARS after the last of them, as a mistyped one that issued nothing is not.
    """
    until = kept_until(approval)
    if until is not None:
        raise ApprovalKept(
            f"Certificates were issued under this {approval.body.label} approval, so it is part of your CE "
            f"records and stays until {until:%B %-d, %Y}. When it ends or is renewed, add the new period "
            "beside it instead."
        )
    db.session.delete(approval)
    db.session.flush()


def save_policies(profile: CreatorProfile, values: dict) -> None:
    for name in ("ce_provider_name", "ce_refund_policy", "ce_grievance_policy", "ce_accommodation_policy"):
        setattr(profile, name, (values.get(name) or "").strip())
    db.session.flush()


def save_offering_ce(offering: Offering, values: dict, claimed: list[AccreditingBody]) -> None:
    """The offering's CE details and the bodies it claims credit from."""
    offering.ce_format = CEFormat(values["ce_format"]) if values.get("ce_format") else None
    offering.ce_level = InstructionalLevel(values["ce_level"]) if values.get("ce_level") else None
    offering.ce_category = CECategory(values["ce_category"]) if values.get("ce_category") else None
    for name in ("ce_audience", "ce_objectives", "ce_presenters", "ce_disclosure"):
        setattr(offering, name, (values.get(name) or "").strip())
    wanted = set(claimed)
    for claim in list(offering.ce_claims):
        if claim.body not in wanted:
            offering.ce_claims.remove(claim)
    held = {claim.body for claim in offering.ce_claims}
    offering.ce_claims.extend(CEClaim(body=body) for body in claimed if body not in held)
    db.session.flush()


WARN_AHEAD = timedelta(days=60)


def warn_expiring_approvals(today: date) -> int:
    """E-mail each creator whose approval ends within 60 days, once per approval period; the number sent.

    The approvals are locked for the run (skipped by a concurrent one), and each is marked with the end
    date it was warned for, so a renewal (a new end date) is warned about in its turn.
    """
    renewal = sa.orm.aliased(ProviderApproval)
    due = db.session.scalars(
        sa.select(ProviderApproval)
        .where(
            ~sa.exists().where(
                renewal.creator_id == ProviderApproval.creator_id,
                renewal.body == ProviderApproval.body,
                renewal.approved_until > ProviderApproval.approved_until,
            ),
            ProviderApproval.approved_until >= today,
            ProviderApproval.approved_until <= today + WARN_AHEAD,
            # A suspended creator's studio is closed: nothing to renew there.
            ProviderApproval.creator_id.in_(sa.select(CreatorProfile.id).where(CreatorProfile.suspended_at.is_(None))),
            sa.or_(
                ProviderApproval.expiry_warned_for.is_(None),
                ProviderApproval.expiry_warned_for != ProviderApproval.approved_until,
            ),
        )
        .order_by(ProviderApproval.id)
        .with_for_update(skip_locked=True)
    ).all()
    for approval in due:
        profile = approval.creator
        context = {
            "profile": profile,
            "approval": approval,
            "days": (approval.approved_until - today).days,
            "claiming": _claiming(approval),
            "ce_link": absolute_url("studio.ce"),
        }
        send_after_commit(
            profile.user.email,
            f"Your {approval.body.label} approval ends on {approval.approved_until:%B %-d, %Y}",
            render_template("studio/email/approval_ending.txt", **context),
        )
        approval.expiry_warned_for = approval.approved_until
    db.session.flush()
    return len(due)


def _claiming(approval: ProviderApproval) -> list[str]:
    """The titles of the creator's published offerings that claim this body's credit."""
    return list(
        db.session.scalars(
            sa.select(Offering.title)
            .join(CEClaim, CEClaim.offering_id == Offering.id)
            .where(
                Offering.creator_id == approval.creator_id,
                Offering.status == OfferingStatus.PUBLISHED,
                CEClaim.body == approval.body,
            )
            .order_by(Offering.title)
        )
    )


@dataclass(frozen=True)
class EvaluationSummary:
    """What an offering's learners said in their CE evaluations: how many, and the average of each rating."""

    count: int
    objectives: list[tuple[str, float | None]]  # each learning objective, as it reads now, and its average
    statements: list[tuple[str, float | None]]  # each standard statement and its average
    comments: list[tuple[str, str]]  # the latest comments and their month, in the order of their words


LATEST_COMMENTS = 20


def _evaluations_of(offering: Offering) -> sa.Select:
    return (
        sa.select(OfferingEvaluation)
        .join(Enrollment, Enrollment.id == OfferingEvaluation.enrollment_id)
        .where(Enrollment.offering_id == offering.id)
    )


def evaluation_summary(offering: Offering) -> EvaluationSummary:
    """Every evaluation's ratings in one query, averaged here, and the latest comments in another.

    Objectives are rated by their words (kept with each evaluation): averaged by text, not by position,
    so an objective added, removed or reordered later never takes another's ratings.
    """
    objectives = offering.objectives
    stored_ratings: list[dict] = list(
        db.session.scalars(_evaluations_of(offering).with_only_columns(OfferingEvaluation.ratings))
    )
    sums: dict[str, list[int]] = {}
    for stored in stored_ratings:
        for key, _ in EVALUATION_STATEMENTS:
            if isinstance((stored or {}).get(key), int):
                sums.setdefault(key, []).append(stored[key])
        for item in (stored or {}).get(OBJECTIVES, []):
            if isinstance(item, dict) and isinstance(item.get("rating"), int):
                sums.setdefault(OBJECTIVES + str(item.get("text")), []).append(item["rating"])

    def mean(key: str) -> float | None:
        return sum(sums[key]) / len(sums[key]) if key in sums else None

    comments = db.session.execute(
        _evaluations_of(offering)
        .with_only_columns(OfferingEvaluation.submitted_at, OfferingEvaluation.comments)
        .where(OfferingEvaluation.comments != "")
        .order_by(OfferingEvaluation.submitted_at.desc(), OfferingEvaluation.id.desc())
        .limit(LATEST_COMMENTS)
    ).all()
    return EvaluationSummary(
        count=len(stored_ratings),
        objectives=[(text, _average(mean(OBJECTIVES + text))) for text in objectives],
        statements=[(text, _average(mean(key))) for key, text in EVALUATION_STATEMENTS],
        # The month only, in the order of their words: neither says which learner wrote which.
        comments=sorted((text, f"{when:%B %Y}") for when, text in comments),
    )


def _average(value) -> float | None:
    return None if value is None else round(float(value), 2)


def evaluations_csv(offering: Offering) -> str:
    """Every evaluation of the offering, one row each, without who wrote it (evaluations are anonymous).

    Rows carry the month, not the day, and come sorted by what they say, not by when: neither the
    order nor a date lines a row up with the roster's completions or certificates.
    """
    objectives = offering.objectives
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "month",
            *(key for key, _ in EVALUATION_STATEMENTS),
            *(f"objective_{n + 1}" for n in range(len(objectives))),
            "comments",
        ]
    )
    rows = []
    for evaluation in db.session.scalars(_evaluations_of(offering)):
        rated = {
            item.get("text"): item.get("rating")
            for item in evaluation.ratings.get(OBJECTIVES, [])
            if isinstance(item, dict)
        }
        rows.append(
            [
                f"{evaluation.submitted_at:%Y-%m}",
                *(evaluation.ratings.get(key, "") for key, _ in EVALUATION_STATEMENTS),
                *(rated.get(text, "") for text in objectives),
                spreadsheet_safe(evaluation.comments),
            ]
        )
    writer.writerows(sorted(rows, key=lambda row: [str(cell) for cell in row]))
    return out.getvalue()
