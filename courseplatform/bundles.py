"""Bundles: several of a creator's offerings sold together at one price.

A bundle is an offering of its own kind (`OfferingKind.BUNDLE`) with no lessons: its page,
price, coupons, orders, ledger line and revenue line are an offering's like any other. What
it sells is access to its offerings (`bundle_items`): one order, one enrollment per offering
(each pointing at the bundle's order), and the order's refunds and disputes act on all of
them (`checkout.services.reverse_payment`). A learner who already has one of the offerings
keeps the access they had; the bundle gives them the rest.

A bundle holds courses and recorded workshops of the same creator and currency: not live
workshops (their seats are sold a date at a time) and not other bundles.

A membership (`OfferingKind.MEMBERSHIP`) holds offerings the same way, for as long as it is paid
(`checkout.plans`); it may hold live workshops too, such as a consultation group meeting every
other week, whose seats it takes like any sign-up.

Functions flush and never commit: the caller's request commits once.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from .extensions import db
from .models import (
    CreatorProfile,
    Enrollment,
    Offering,
    OfferingKind,
    OfferingStatus,
    User,
    bundle_items,
)

BUNDLABLE_KINDS = (OfferingKind.COURSE, OfferingKind.RECORDED_WORKSHOP)
MEMBERSHIP_KINDS = (*BUNDLABLE_KINDS, OfferingKind.LIVE_WORKSHOP)
MIN_ITEMS = 2
MAX_ITEMS = 20


def holdable_kinds(holder: Offering) -> tuple[OfferingKind, ...]:
    """The kinds of offering a bundle (or a membership, which may hold live groups) can hold."""
    return MEMBERSHIP_KINDS if holder.is_membership else BUNDLABLE_KINDS


def least_items(holder: Offering) -> int:
    """A bundle sells two or more offerings together; a membership may give one (a consultation group)."""
    return 1 if holder.is_membership else MIN_ITEMS


def bundle_candidates(profile: CreatorProfile, bundle: Offering) -> list[Offering]:
    """The creator's offerings this bundle may hold: courses and recorded workshops in its currency, not
    archived, and those it holds already whatever became of them (so the creator can see and untick them)."""
    held = sa.select(bundle_items.c.item_id).where(bundle_items.c.bundle_id == bundle.id)
    return list(
        db.session.scalars(
            sa.select(Offering)
            .where(
                Offering.creator_id == profile.id,
                Offering.id != bundle.id,
                sa.or_(
                    sa.and_(
                        Offering.kind.in_(holdable_kinds(bundle)),
                        Offering.currency == bundle.currency,
                        Offering.status != OfferingStatus.ARCHIVED,
                    ),
                    Offering.id.in_(held),
                ),
            )
            .order_by(Offering.title, Offering.id)
        )
    )


class BundleError(ValueError):
    """A bundle's contents that can't be saved; the message says why."""


def set_bundle_offerings(bundle: Offering, chosen_ids: Iterable[int], candidates: list[Offering]) -> list[Offering]:
    """Make the bundle hold exactly these of its candidates, in the candidates' order; BundleError otherwise."""
    wanted = set(chosen_ids)
    allowed = {
        offering.id: offering
        for offering in candidates
        if offering.kind in holdable_kinds(bundle) and offering.currency == bundle.currency
    }
    what = bundle.kind.label.lower()
    if wanted - allowed.keys():
        if bundle.is_membership:
            raise BundleError(f"Choose only your own offerings, in this {what}'s currency.")
        raise BundleError(f"Choose only your own courses and recorded workshops, in this {what}'s currency.")
    if len(wanted) > MAX_ITEMS:
        raise BundleError(f"A {what} holds at most {MAX_ITEMS} offerings.")
    db.session.execute(sa.delete(bundle_items).where(bundle_items.c.bundle_id == bundle.id))
    kept = [offering for offering in candidates if offering.id in wanted]
    if kept:
        db.session.execute(
            sa.insert(bundle_items),
            [{"bundle_id": bundle.id, "item_id": o.id, "position": n} for n, o in enumerate(kept)],
        )
    db.session.flush()
    db.session.expire(bundle, ["bundle_offerings"])
    if bundle.status is OfferingStatus.PUBLISHED and bundle_problems(bundle):
        # What learners are buying right now can change, but not below what publishing asks.
        least = least_items(bundle)
        raise BundleError(
            f"A published {what} holds at least {least} published offering{'' if least == 1 else 's'}. "
            "To hold fewer, take it back to draft first."
        )
    return kept


def bundle_problems(bundle: Offering) -> list[str]:
    """What stops a bundle from being published, or sold: the same rules, in words the creator can act on.

    Checked again at every Buy, so a bundle stops selling when an offering in it is archived,
    taken back to draft, put on waitlist only, turned into a live workshop or deleted.
    """
    items = bundle.bundle_offerings
    what = bundle.kind.label.lower()
    least = least_items(bundle)
    if len(items) < least:
        return [f"Choose at least {least} offering{'' if least == 1 else 's'} for the {what} (Contents)."]
    problems = []
    closed = [o.title for o in items if not is_sellable_item(o, bundle)]
    if closed:
        problems.append(
            f"{', '.join(closed)} can't be sold in a {what} now: publish it, open it to sign-ups, "
            f"or take it out of the {what} (Contents)."
        )
    if bundle.is_free or bundle.sliding_scale_min_cents is not None:
        problems.append(
            f"Give the {what} a fixed price: free and pay what you can aren't offered for {what}s (Details)."
        )
    if bundle.is_membership and bundle.billing_interval is None:
        problems.append("Choose whether the membership renews monthly or yearly (Details).")
    return problems


def is_sellable_item(offering: Offering, holder: Offering | None = None) -> bool:
    """An offering a bundle (or `holder`, a bundle or a membership) may sell right now: listed and open to sign-ups."""
    kinds = holdable_kinds(holder) if holder is not None else BUNDLABLE_KINDS
    return offering.kind in kinds and offering.is_listed and not offering.waitlist_only


def published_bundles_holding(offering: Offering) -> list[Offering]:
    """The published bundles this offering is in (an archive, a delete or a new kind would stop them selling)."""
    return list(
        db.session.scalars(
            sa.select(Offering)
            .join(bundle_items, bundle_items.c.bundle_id == Offering.id)
            .where(bundle_items.c.item_id == offering.id, Offering.status == OfferingStatus.PUBLISHED)
            .order_by(Offering.title)
        )
    )


def list_value_cents(bundle: Offering) -> int:
    """What the bundle's offerings cost bought one by one."""
    return sum(offering.price_cents for offering in bundle.bundle_offerings)


def _enrollments(user: User, bundle: Offering) -> dict[int, Enrollment]:
    """The learner's enrollments in the bundle's offerings, by offering; one query."""
    ids = [offering.id for offering in bundle.bundle_offerings]
    if not ids or not user.is_authenticated:
        return {}
    rows = db.session.scalars(
        sa.select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.offering_id.in_(ids))
    )
    return {enrollment.offering_id: enrollment for enrollment in rows}


def owned_offering_ids(user: User, bundle: Offering) -> set[int]:
    """Which of the bundle's offerings the learner already has access to; one query."""
    return {offering_id for offering_id, e in _enrollments(user, bundle).items() if e.is_active}


def missing_offerings(user: User, bundle: Offering) -> list[Offering]:
    """The bundle's offerings the learner doesn't have access to yet, in the bundle's order; one query."""
    owned = owned_offering_ids(user, bundle)
    return [offering for offering in bundle.bundle_offerings if offering.id not in owned]


def purchase_refusals(user: User, bundle: Offering) -> list[str]:
    """Why buying the bundle can't give this learner all it holds (an offering closed, or access to one ended
    in a way buying can't undo); empty when it can. Offerings they already have are theirs and don't count."""
    from .enrollments.seats import has_seat
    from .enrollments.states import AccessRefused, next_status
    from .models import AccessEvent

    enrollments = _enrollments(user, bundle)
    refusals = []
    for offering in bundle.bundle_offerings:
        existing = enrollments.get(offering.id)
        if existing is not None and existing.is_active:
            continue
        if not is_sellable_item(offering, bundle):
            refusals.append(f"{offering.title} isn't open to sign-ups right now")
            continue
        if offering.kind is OfferingKind.LIVE_WORKSHOP and not has_seat(
            offering, for_learner=getattr(user, "id", None)
        ):
            refusals.append(f"{offering.title} is full")
            continue
        try:
            next_status(existing, AccessEvent.PURCHASE)
        except AccessRefused:
            refusals.append(f"your access to {offering.title} has ended and can't be bought back")
    return refusals


def has_everything(user: User, bundle: Offering) -> bool:
    """The learner already has every offering in the bundle, so there is nothing left to buy."""
    items = bundle.bundle_offerings
    return bool(items) and len(owned_offering_ids(user, bundle)) == len(items)
