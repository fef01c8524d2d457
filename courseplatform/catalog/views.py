"""Public routes: /, /courses, /courses/<slug> (and its previews and waitlist), /t/<creator-slug>."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from ..bundles import bundle_problems, list_value_cents, owned_offering_ids, purchase_refusals
from ..checkout.coupons import CouponError, CouponPrice, coupon_offer, normalise_code
from ..checkout.forms import CheckoutForm
from ..continuing_education import approved_credits, creator_today, format_of
from ..enrollments.notes import learner_note
from ..enrollments.seats import seats
from ..enrollments.waitlist import join_waitlist as add_to_waitlist
from ..extensions import limiter
from ..fields import page_number
from ..media.services import media_url
from ..models import OfferingStatus, User
from ..page_cache import form_meta, token_or_same_origin
from . import bp
from .forms import OfferingSearchForm, WaitlistForm
from .services import (
    OfferingPage,
    browsable_topics,
    call_to_action,
    can_see_draft,
    cover_urls,
    enrollment_for,
    find_preview_lesson,
    newest_offerings,
    offering_for_page,
    on_waitlist,
    other_previews,
    search_offerings,
    storefront,
    upcoming_session_seats,
)

HOME_OFFERINGS = 6
# The offerings whose waitlist this browser joined, so the page can say so to a visitor without an account.
WAITLISTS_KEY = "waitlists"
WAITLISTS_REMEMBERED = 20


@bp.get("/")
def home():
    """The landing page: what Aqueduct is, and the newest offerings."""
    offerings = newest_offerings(HOME_OFFERINGS)
    return render_template("catalog/home.html", offerings=offerings, covers=cover_urls(offerings))


@bp.get("/courses")
def offerings():
    """The catalog: published offerings to search, filter by topic and format, sort and page through."""
    form = OfferingSearchForm(request.args, topics=browsable_topics())
    results = search_offerings(form, page_number(request.args))
    return render_template(
        "catalog/offerings.html",
        form=form,
        results=results,
        covers=cover_urls(results.items),
    )


def _visible_offering_or_404(slug: str) -> OfferingPage:
    page = offering_for_page(slug)
    if page is None:
        abort(404)
    if page.offering.status is OfferingStatus.DRAFT and not can_see_draft(current_user, page.offering):
        abort(404)
    return page


def _render_offering(page: OfferingPage, waitlist_form: WaitlistForm | None = None):
    offering = page.offering
    enrollment = enrollment_for(current_user, offering)
    found = seats(offering)
    viewer_zone = current_user.time_zone if current_user.is_authenticated else None
    sessions = upcoming_session_seats(offering, found, viewer_zone)
    note = learner_note(enrollment, viewer_zone)
    action = call_to_action(offering, enrollment, found, note)
    owned = owned_offering_ids(current_user, offering) if offering.holds_offerings else set()
    if offering.holds_offerings and owned and len(owned) == len(offering.bundle_offerings):
        action = "enrolled"
    elif offering.holds_offerings and action in ("buy", "free", "sliding") and bundle_problems(offering):
        action = "unavailable"  # an offering in it was closed since: it stops selling, as Buy would refuse
    refusals = purchase_refusals(current_user, offering) if offering.holds_offerings and action == "buy" else []
    if refusals:
        action = "refused"  # a group it gives is full, say: Buy would refuse with the same words
    if waitlist_form is None:
        email = current_user.email if current_user.is_authenticated else None
        waitlist_form = WaitlistForm(formdata=None, email=email, meta=form_meta())
    elif waitlist_form.errors and action != "waitlist":
        for error in waitlist_form.email.errors:
            flash(error, "error")
    owner_view = offering.status is not OfferingStatus.DRAFT and can_see_draft(current_user, offering)
    coupon, coupon_problem = _coupon_on_page(offering, action)
    checkout_form = CheckoutForm(offering, formdata=None, meta=form_meta())
    if coupon is not None:
        checkout_form.coupon.data = coupon.coupon.code
    return render_template(
        "catalog/offering.html",
        offering=offering,
        cover_url=media_url(page.cover),
        photo_url=media_url(page.creator_photo),
        enrollment=enrollment,
        access_note=note,
        seats=found,
        sessions=sessions,
        viewer_zone=viewer_zone,
        action=action,
        waitlist_form=waitlist_form,
        already_waiting=action == "waitlist" and _on_waitlist(offering),
        checkout_form=checkout_form,
        coupon=coupon,
        coupon_problem=coupon_problem,
        bundle_owned=owned,
        bundle_value=list_value_cents(offering) if offering.holds_offerings else 0,
        refusals=refusals,
        is_draft=offering.status is OfferingStatus.DRAFT,
        owner_view=owner_view,
        ce_credits=approved_credits(offering, creator_today(offering.creator)),
        ce_format=format_of(offering),
    )


def _coupon_on_page(offering, action: str) -> tuple[CouponPrice | None, str | None]:
    """The `?coupon=` of a shared link or the "Have a code?" box: the price it gives, or why it can't be used.

    A code shared for all of a creator's offerings may land on a free or pay-what-you-can one:
    the page says it doesn't apply there. (Trying codes is rate-limited: see `offering`.)
    """
    if action not in ("buy", "sliding", "free") or "coupon" not in request.args:
        return None, None
    try:
        code = normalise_code(request.args["coupon"])
        if code is None:
            return None, None
        learner = current_user.id if current_user.is_authenticated else None
        return coupon_offer(offering, code, learner), None
    except CouponError as exc:
        return None, exc.message


def _on_waitlist(offering) -> bool:
    if current_user.is_authenticated:
        return on_waitlist(current_user, offering)
    return offering.id in session.get(WAITLISTS_KEY, [])


# Generous for a person trying a code or two; far too slow to guess codes (as for certificate numbers).
COUPON_LOOKUP_LIMIT = "30 per minute;300 per hour"


@bp.get("/courses/<slug>")
@limiter.limit(COUPON_LOOKUP_LIMIT, exempt_when=lambda: "coupon" not in request.args)
def offering(slug: str):
    """An offering's page: what's inside, who teaches it, when it meets, and the one thing to do next."""
    return _render_offering(_visible_offering_or_404(slug))


@bp.get("/courses/<slug>/preview/<int:lesson_id>")
def preview_lesson(slug: str, lesson_id: int):
    """A free sample lesson anyone can open before buying; every other lesson stays behind enrollment."""
    lesson = find_preview_lesson(slug, lesson_id)
    if lesson is None:
        abort(404)
    offering = lesson.section.offering
    if offering.status is OfferingStatus.DRAFT and not can_see_draft(current_user, offering):
        abort(404)
    if (
        offering.status is OfferingStatus.PUBLISHED
        and not offering.is_listed
        and not can_see_draft(current_user, offering)
    ):
        return redirect(url_for("catalog.offering", slug=offering.slug))
    return render_template(
        "catalog/preview.html",
        offering=offering,
        lesson=lesson,
        previews=other_previews(offering),
        is_draft=offering.status is OfferingStatus.DRAFT,
    )


@bp.post("/courses/<slug>/waitlist")
@limiter.limit("10 per hour", methods=["POST"])
@token_or_same_origin
def join_waitlist(slug: str):
    """Ask to hear, once, when an offering opens or a seat frees up."""
    page = offering_for_page(slug)
    if page is None or not page.offering.is_listed:
        abort(404)
    form = WaitlistForm(meta=form_meta())
    if not form.validate_on_submit():
        return _render_offering(page, waitlist_form=form)
    email = User.normalize_email(form.email.data)
    if add_to_waitlist(page.offering, email):
        flash(f"You're on the waitlist. We'll e-mail {email} once, when a place opens.", "success")
    else:
        flash(f"You're already on the list with {email}. We'll e-mail you when a place opens.", "info")
    if not current_user.is_authenticated:
        joined = [cid for cid in session.get(WAITLISTS_KEY, []) if cid != page.offering.id]
        session[WAITLISTS_KEY] = [*joined, page.offering.id][-WAITLISTS_REMEMBERED:]
    return redirect(url_for("catalog.offering", slug=slug))


@bp.get("/t/<slug>")
def storefront_page(slug: str):
    """A therapist's storefront: who they are, how many they've taught, and what they offer, a page at a time."""
    front = storefront(slug, page_number(request.args))
    if front is None:
        abort(404)
    if front.profile.is_suspended and not (current_user.is_authenticated and current_user.is_admin):
        return render_template("catalog/unavailable.html", what="This therapist's page"), 404
    return render_template(
        "catalog/storefront.html",
        profile=front.profile,
        photo_url=media_url(front.photo),
        offerings=front.offerings,
        learners_taught=front.learners_taught,
        covers=cover_urls(front.offerings.items),
    )
