"""Public certificate verification (no login): an employer or a licensing board checks a number.

GET /certificates                  look up a number typed from a printed certificate
GET /certificates/<number>         whether the certificate is genuine, and what it states
"""

from __future__ import annotations

import re

from flask import redirect, render_template, request, url_for

from ..extensions import limiter
from ..learning.certificate_pdf import completion_date, creator_line
from ..learning.certificates import certificate_by_number, superseded_by_number
from ..models import OfferingStatus
from . import bp

# Generous for a person checking a few certificates; far too slow to walk the space of numbers.
VERIFY_LIMIT = "30 per minute;300 per hour"
NUMBER_RE = re.compile(r"^AQ-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")


def normalize_number(text: str) -> str:
    """`aq 7kd3 qx9m 2f4t` → `AQ-7KD3-QX9M-2F4T`: forgiving of case, spaces and missing dashes."""
    compact = re.sub(r"[^0-9A-Za-z]", "", text or "").upper()
    if compact.startswith("AQ") and len(compact) == 14:
        return f"AQ-{compact[2:6]}-{compact[6:10]}-{compact[10:14]}"
    return (text or "").strip().upper()


@bp.get("/certificates")
@limiter.limit(VERIFY_LIMIT)
def lookup():
    """A form to type a certificate number; a number sent goes straight to its page."""
    typed = request.args.get("number", "")
    number = normalize_number(typed)
    error = None
    if typed.strip():
        if NUMBER_RE.match(number):
            return redirect(url_for("certificates.verify", number=number))
        error = "A certificate number looks like AQ-7KD3-QX9M-2F4T. Check it and try again."
    return render_template("certificates/lookup.html", typed=typed, error=error), 200 if error is None else 400


@bp.get("/certificates/<number>")
@limiter.limit(VERIFY_LIMIT)
def verify(number: str):
    """Whether the certificate with this number is genuine, and what it states; 404 for unknown numbers."""
    canonical = normalize_number(number)
    if canonical != number and NUMBER_RE.match(canonical):
        return redirect(url_for("certificates.verify", number=canonical), code=301)
    certificate = certificate_by_number(number) if NUMBER_RE.match(number) else None
    superseded = superseded_by_number(number) if certificate is None and NUMBER_RE.match(number) else None
    if superseded is not None:
        return render_template("certificates/superseded.html", superseded=superseded)
    if certificate is None:
        error = f"No certificate has the number {number[:40]}. Check it against the certificate and try again."
        return render_template("certificates/lookup.html", typed=number[:40], error=error), 404
    offering = certificate.enrollment.offering
    return render_template(
        "certificates/verify.html",
        certificate=certificate,
        revoked=certificate.is_revoked,
        completed_on=completion_date(certificate, certificate.enrollment.user.time_zone),
        creator=creator_line(certificate),
        offering=offering if offering.status is not OfferingStatus.DRAFT else None,
    )
