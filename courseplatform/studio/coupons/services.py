"""A creator's coupons: making them, stopping them, and what each has done, a page at a time.

Functions flush and never commit: the caller's request commits once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ...checkout.coupons import used_pairs
from ...extensions import db
from ...formatting import zone_or_utc
from ...links import absolute_url
from ...models import Coupon, CouponKind, CreatorProfile, Offering, OfferingStatus, Order, utcnow
from ...models.base import whole_sum
from ...models.commerce import SETTLED_STATUSES
from ...pagination import Page, paginate
from .forms import CouponForm

COUPONS_PER_PAGE = 25


class CouponTaken(ValueError):
    """The creator already has an active coupon with this code."""

    def __init__(self, code: str) -> None:
        super().__init__(f"You already have a code {code}. Choose another, or archive that one first.")


def couponable_offerings(profile: CreatorProfile) -> list[Offering]:
    """The offerings a coupon can be limited to: fixed-price ones not archived (free and pay-what-you-can take none)."""
    return list(
        db.session.scalars(
            sa.select(Offering)
            .where(
                Offering.creator_id == profile.id,
                Offering.price_cents > 0,
                Offering.sliding_scale_min_cents.is_(None),
                Offering.status != OfferingStatus.ARCHIVED,
            )
            .order_by(Offering.title, Offering.id)
        )
    )


def end_of_day(day: date, zone_name: str | None) -> datetime:
    """Midnight after `day` on the creator's clock, as the instant a coupon stops."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone_or_utc(zone_name))


def create_coupon(profile: CreatorProfile, form: CouponForm, offerings: list[Offering]) -> Coupon:
    """A new coupon from a validated form; CouponTaken if the code is one of the creator's already."""
    code = form.normalised_code or ""
    taken = db.session.scalar(
        sa.select(Coupon.id).where(Coupon.creator_id == profile.id, Coupon.code == code, Coupon.archived_at.is_(None))
    )
    if taken is not None:
        raise CouponTaken(code)
    percent = form.kind.data == "percent"
    chosen = set(form.offering_ids.data or [])
    coupon = Coupon(
        creator_id=profile.id,
        code=code,
        kind=CouponKind.PERCENT if percent else CouponKind.AMOUNT,
        percent_off=form.percent_off.data if percent else None,
        amount_off_cents=None if percent else form.amount_off_cents.data,
        currency=None if percent else profile.currency,
        all_offerings=form.scope.data == "all",
        expires_at=end_of_day(form.last_day.data, profile.user.time_zone) if form.last_day.data else None,
        max_redemptions=form.max_redemptions.data,
        max_per_learner=form.max_per_learner.data,
    )
    if not coupon.all_offerings:
        coupon.offerings = [o for o in offerings if o.id in chosen]
    try:
        # A savepoint: the same code made a moment ago in another tab is refused, not a server error.
        with db.session.begin_nested():
            db.session.add(coupon)
    except IntegrityError:
        raise CouponTaken(code) from None
    return coupon


def archive_coupon(profile: CreatorProfile, coupon_id: int) -> Coupon | None:
    """Stop one of the creator's coupons (checkouts already open with it go on); None if it isn't theirs."""
    coupon = db.session.scalar(
        sa.select(Coupon).where(Coupon.id == coupon_id, Coupon.creator_id == profile.id).with_for_update()
    )
    if coupon is not None and coupon.archived_at is None:
        coupon.archived_at = utcnow()
        db.session.flush()
    return coupon


def share_links(rows: list[CouponRow], offerings: list[Offering]) -> dict[int, tuple[str, bool]]:
    """For each usable coupon on the page: a link to share (on the site's own address) and whether it is
    an example (the code works on every offering); only offerings learners can open are linked."""
    now = utcnow()
    open_to_all = [o for o in offerings if o.status is OfferingStatus.PUBLISHED]
    links = {}
    for row in rows:
        coupon = row.coupon
        if coupon.is_archived or coupon.has_expired(now):
            continue
        choices = open_to_all if coupon.all_offerings else [o for o in coupon.offerings if o in open_to_all]
        if choices:
            url = absolute_url("catalog.offering", slug=choices[0].slug, coupon=coupon.code)
            links[coupon.id] = (url, coupon.all_offerings)
    return links


@dataclass(frozen=True)
class CouponRow:
    """One coupon in the studio's list, with what it has done."""

    coupon: Coupon
    uses: int  # learners who bought an offering with it, or are paying now
    discount_cents: int  # taken off settled orders
    paid_cents: int  # what those orders brought

    @property
    def used_up(self) -> bool:
        return self.coupon.max_redemptions is not None and self.uses >= self.coupon.max_redemptions

    def state(self, now: datetime) -> str:
        if self.coupon.is_archived:
            return "Archived"
        if self.coupon.has_expired(now):
            return "Expired"
        return "Used up" if self.used_up else "Active"


def coupon_page(profile: CreatorProfile, page: int) -> Page[CouponRow]:
    """The creator's coupons, active first then newest, with their uses and money, in at most four queries.

    The figures are summed for the page's coupons only, off the orders' (coupon, status) index.
    """
    statement = (
        sa.select(Coupon)
        .where(Coupon.creator_id == profile.id)
        .order_by(Coupon.archived_at.is_not(None), Coupon.created_at.desc(), Coupon.id.desc())
        .options(selectinload(Coupon.offerings))
    )
    total = sa.select(sa.func.count(Coupon.id)).where(Coupon.creator_id == profile.id)
    found = paginate(statement, page, COUPONS_PER_PAGE, total=total)
    ids = [coupon.id for coupon in found.items]
    figures: dict[int, tuple[int, int, int]] = {}
    if ids:
        pairs = used_pairs().where(Order.coupon_id.in_(ids)).subquery()
        uses = sa.select(pairs.c.coupon_id, sa.func.count().label("uses")).group_by(pairs.c.coupon_id).subquery()
        money = (
            sa.select(
                Order.coupon_id.label("coupon_id"),
                whole_sum(Order.revenue_discount_cents).label("discount"),
                whole_sum(Order.revenue_cents).label("paid"),
            )
            .where(Order.coupon_id.in_(ids), Order.status.in_(SETTLED_STATUSES))
            .group_by(Order.coupon_id)
            .subquery()
        )
        rows: Iterable[tuple[int, int, int | None, int | None]] = db.session.execute(
            sa.select(uses.c.coupon_id, uses.c.uses, money.c.discount, money.c.paid).outerjoin(
                money, money.c.coupon_id == uses.c.coupon_id
            )
        )
        for coupon_id, used, discount, paid in rows:
            figures[coupon_id] = (int(used), int(discount or 0), int(paid or 0))
    listed = [CouponRow(coupon, *figures.get(coupon.id, (0, 0, 0))) for coupon in found.items]
    return Page(page=found.page, per_page=found.per_page, total=found.total, items=listed)
