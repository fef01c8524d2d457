"""A therapist's practice waitlist page, and leaving the list with the link in any of its e-mails.

GET  /t/<slug>/waitlist         crisis lines first, the therapist's words, the form, their offerings for the
                                public and colleagues taking clients (a shared page, like the storefront)
POST /t/<slug>/waitlist         join: an e-mail address and consent, nothing else is read
GET  /waitlist/leave/<token>    "Leave the list?" with one button
POST /waitlist/leave/<token>    leave; also what mail apps send for one-click unsubscribe (RFC 8058)
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for

from ..clientfacing import default_crisis_resources
from ..extensions import csrf, db, limiter
from ..models import CreatorProfile
from ..page_cache import form_meta, token_or_same_origin
from ..practice import entry_for_token, is_open, join, leave, offerings_for_the_public, referral_partners
from . import bp
from .forms import PracticeWaitlistForm
from .services import cover_urls


def _profile_or_404(slug: str) -> CreatorProfile:
    """The therapist whose waitlist page this is, while it is open (closed, suspended or unknown: 404)."""
    profile = db.session.scalar(db.select(CreatorProfile).where(CreatorProfile.slug == slug))
    if profile is None or not is_open(profile):
        abort(404)
    return profile


def _render(profile: CreatorProfile, form: PracticeWaitlistForm, status: int = 200):
    offerings = offerings_for_the_public(profile)
    return (
        render_template(
            "catalog/practice_waitlist.html",
            profile=profile,
            form=form,
            crisis=default_crisis_resources(profile),
            offerings=offerings,
            covers=cover_urls(offerings),
            partners=referral_partners(profile),
        ),
        status,
    )


@bp.get("/t/<slug>/waitlist")
def practice_waitlist(slug: str):
    """I'm not taking new clients: here is what may help while you wait, and how to hear when I can."""
    profile = _profile_or_404(slug)
    return _render(profile, PracticeWaitlistForm(meta=form_meta(), formdata=None))


@bp.post("/t/<slug>/waitlist")
@limiter.limit("10 per hour", methods=["POST"])
@token_or_same_origin
def join_practice_waitlist(slug: str):
    profile = _profile_or_404(slug)
    form = PracticeWaitlistForm(meta=form_meta())
    if not form.validate_on_submit():
        return _render(profile, form, 400)
    join(profile, form.email.data)
    # The same words whether the address was new or already there: the page doesn't tell who is on a list.
    flash(
        f"Thank you: {form.email.data.strip().lower()} is on {profile.display_name}'s waitlist. "
        "Every e-mail about it has a link to leave the list.",
        "success",
    )
    return redirect(url_for("catalog.practice_waitlist", slug=slug))


@bp.get("/waitlist/leave/<token>")
def leave_practice_waitlist(token: str):
    """The link in every e-mail about a practice waitlist: one button, no account (a GET changes nothing,
    so a mail scanner opening links can't take anyone off)."""
    entry = entry_for_token(token)
    if entry is None:
        abort(404)
    profile = db.session.get(CreatorProfile, entry.creator_id)
    return render_template("catalog/practice_waitlist_leave.html", entry=entry, profile=profile, token=token)


@bp.post("/waitlist/leave/<token>")
@csrf.exempt  # the signed link is the permission; mail apps post here for one-click unsubscribe without a token
# No rate limit: a link can't be guessed, and a mail provider's one-click unsubscribes all come from its few addresses.
def confirm_leave_practice_waitlist(token: str):
    entry = entry_for_token(token)
    if entry is None:
        abort(404)
    profile = db.session.get(CreatorProfile, entry.creator_id)
    leave(entry)
    return render_template("catalog/practice_waitlist_leave.html", entry=entry, profile=profile, token=token, left=True)
