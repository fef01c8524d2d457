"""Continuing education as learners and the public see it: the credit an offering carries, from which body,
with the statement the body's approval asks for. The studio records approvals and claims
(`studio/ce`) and checks them at publish (`studio/offerings/ce_rules.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from .extensions import db
from .models import AccreditingBody, CEFormat, CreatorProfile, Offering, OfferingKind, ProviderApproval

PLACEHOLDERS = ("provider", "number", "hours", "format", "period_start", "period_end")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def approvals_of(profile: CreatorProfile) -> list[ProviderApproval]:
    """The creator's approvals, one a body, in the bodies' order."""
    found = db.session.scalars(sa.select(ProviderApproval).where(ProviderApproval.creator_id == profile.id))
    order = list(AccreditingBody)
    return sorted(found, key=lambda approval: order.index(approval.body))


def format_of(offering: Offering) -> CEFormat:
    """The format the offering is delivered in: its own choice, or what its kind says."""
    if offering.ce_format is not None:
        return offering.ce_format
    return CEFormat.LIVE_WEBINAR if offering.kind is OfferingKind.LIVE_WORKSHOP else CEFormat.SELF_PACED


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


def approved_credits(offering: Offering, today: date) -> list[ApprovedCredit]:
    """The offering's claims whose approval covers today and its format, each with its statement filled in."""
    if not offering.ce_minutes or not offering.ce_claims:
        return []
    approvals = {approval.body: approval for approval in approvals_of(offering.creator)}
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
        credits.append(ApprovedCredit(claim.body, approval.provider_number, fill(approval.statement, values)))
    return credits
