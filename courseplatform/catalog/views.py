"""Public routes: /, /courses, /courses/<slug>, /t/<creator-slug>."""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user

from ..extensions import db
from ..models import Enrollment
from . import bp
from .services import course_for_page, published_courses, storefront, upcoming_sessions


@bp.get("/")
def home():
    """The landing page: what Aqueduct is, and the newest offerings."""
    return render_template("catalog/home.html", courses=published_courses(limit=6))


@bp.get("/courses")
def courses():
    """Every published offering."""
    return render_template("catalog/courses.html", courses=published_courses())


@bp.get("/courses/<slug>")
def course(slug: str):
    """An offering's page: description, outline, creator, and what the visitor can do next."""
    offering = course_for_page(slug)
    if offering is None:
        abort(404)
    enrollment = None
    if current_user.is_authenticated:
        enrollment = db.session.scalar(db.select(Enrollment).filter_by(user_id=current_user.id, course_id=offering.id))
    return render_template(
        "catalog/course.html",
        course=offering,
        enrollment=enrollment,
        sessions=upcoming_sessions(offering),
    )


@bp.get("/t/<slug>")
def storefront_page(slug: str):
    """A therapist's storefront: who they are and everything they offer."""
    profile, offerings = storefront(slug)
    if profile is None:
        abort(404)
    return render_template("catalog/storefront.html", profile=profile, courses=offerings)
