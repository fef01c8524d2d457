"""Studio routes for a creator's coupons.

GET  /studio/coupons                      the coupons with their uses, and the form for a new one
POST /studio/coupons                      make a coupon
POST /studio/coupons/<id>/archive         stop a coupon (checkouts already open with it go on)

Only the creator's own coupons: another's id is a 404.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ...access import creator_required
from ...continuing_education import creator_today
from ...fields import page_number
from ...models import Offering, utcnow
from .. import bp
from ..offerings.forms import ConfirmForm
from .forms import CouponForm
from .services import (
    CouponTaken,
    archive_coupon,
    coupon_page,
    couponable_offerings,
    create_coupon,
    share_links,
)


def _page(form: CouponForm, offerings: list[Offering], status: int = 200):
    profile = current_user.creator_profile
    coupons = coupon_page(profile, page_number(request.args))
    return (
        render_template(
            "studio/coupons.html",
            profile=profile,
            form=form,
            offerings=offerings,
            coupons=coupons,
            share_links=share_links(coupons.items, offerings),
            now=utcnow(),
            confirm=ConfirmForm(),
        ),
        status,
    )


@bp.get("/coupons")
@creator_required
def coupons():
    """My coupons: what each takes off, where, how often it has been used, and a link to share."""
    profile = current_user.creator_profile
    offerings = couponable_offerings(profile)
    return _page(CouponForm(offerings, creator_today(profile), formdata=None), offerings)


@bp.post("/coupons")
@creator_required
def create_coupon_view():
    profile = current_user.creator_profile
    offerings = couponable_offerings(profile)
    form = CouponForm(offerings, creator_today(profile))
    if not form.validate_on_submit():
        return _page(form, offerings, 400)
    try:
        coupon = create_coupon(profile, form, offerings)
    except CouponTaken as exc:
        form.code.errors = [str(exc)]
        return _page(form, offerings, 400)
    flash(f"The code {coupon.code} is ready to share.", "success")
    return redirect(url_for("studio.coupons"))


@bp.post("/coupons/<int:coupon_id>/archive")
@creator_required
def archive_coupon_view(coupon_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    coupon = archive_coupon(current_user.creator_profile, coupon_id)
    if coupon is None:
        abort(404)
    flash(f"The code {coupon.code} no longer works. Checkouts already open with it can still be paid.", "info")
    return redirect(url_for("studio.coupons"))
