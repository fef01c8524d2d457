"""The therapist's own referral partners: adding, changing, ordering and removing them (at most twenty)."""

from __future__ import annotations

import sqlalchemy as sa

from ...extensions import db
from ...models import MAX_REFERRAL_PARTNERS, CreatorProfile, ReferralPartner
from ...practice import referral_partners
from ..offerings.services import StudioError


class PartnerRefused(StudioError):
    """Too many partners already."""


def owned_partner(profile: CreatorProfile, partner_id: int) -> ReferralPartner | None:
    return db.session.scalar(
        sa.select(ReferralPartner).where(ReferralPartner.id == partner_id, ReferralPartner.creator_id == profile.id)
    )


def add_partner(profile: CreatorProfile, form) -> ReferralPartner:
    """A colleague at the end of the list; refused past MAX_REFERRAL_PARTNERS (the page shows them all).

    The creator's row is locked first, so two additions at once can't both pass the count.
    """
    db.session.execute(sa.select(CreatorProfile.id).where(CreatorProfile.id == profile.id).with_for_update())
    count, last = db.session.execute(
        sa.select(sa.func.count(ReferralPartner.id), sa.func.max(ReferralPartner.position)).where(
            ReferralPartner.creator_id == profile.id
        )
    ).one()
    if count >= MAX_REFERRAL_PARTNERS:
        raise PartnerRefused(
            f"You can list up to {MAX_REFERRAL_PARTNERS} colleagues. Remove one who isn't taking clients first."
        )
    partner = ReferralPartner(creator_id=profile.id, position=(last or 0) + 1)
    update_partner(partner, form)
    db.session.add(partner)
    db.session.flush()
    return partner


def update_partner(partner: ReferralPartner, form) -> None:
    partner.name = form.name.data
    partner.credentials = form.credentials.data or ""
    partner.specialties = form.specialties.data or ""
    partner.url = form.url.data or ""


def move_partner(profile: CreatorProfile, partner: ReferralPartner, direction: str) -> None:
    """Swap a partner with its neighbour above or below (nothing at either end)."""
    partners = referral_partners(profile, locked=True)
    index = partners.index(partner)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(partners):
        return
    partners[index], partners[other] = partners[other], partners[index]
    for position, each in enumerate(partners, start=1):
        each.position = position
    db.session.flush()
