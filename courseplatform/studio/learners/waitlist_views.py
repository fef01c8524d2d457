"""Studio routes for an offering's waitlist: who is waiting, and a CSV to take elsewhere."""

from __future__ import annotations

from flask import Response, render_template, request

from ...access import owned_course_or_404, studio_required
from ...downloads import attachment
from ...enrollments.waitlist import latest_notice, waitlist_csv, waitlist_entries, waitlist_page
from ...fields import page_number
from .. import bp


@bp.get("/courses/<int:course_id>/waitlist")
@studio_required
def waitlist(course_id: int):
    """Who is waiting to hear when this offering opens or a seat frees up, and how the latest telling is going."""
    course = owned_course_or_404(course_id)
    listing = waitlist_page(course, page_number(request.args))
    return render_template("studio/waitlist.html", course=course, listing=listing, notice=latest_notice(course))


@bp.get("/courses/<int:course_id>/waitlist.csv", endpoint="waitlist_csv")
@studio_required
def waitlist_csv_download(course_id: int):
    """The waitlist as a spreadsheet-safe CSV, for the creator's own mailing tool."""
    course = owned_course_or_404(course_id)
    return Response(
        waitlist_csv(waitlist_entries(course)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": attachment(f"{course.slug}-waitlist.csv"),
            "Cache-Control": "private, no-store",
        },
    )
