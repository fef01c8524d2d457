"""Studio routes for an offering's waitlist: who is waiting, and a CSV to take elsewhere."""

from __future__ import annotations

from flask import render_template, request

from ...access import owned_offering_or_404, studio_required
from ...downloads import private_download
from ...enrollments.waitlist import latest_notice, waitlist_csv, waitlist_entries, waitlist_page
from ...fields import page_number
from .. import bp


@bp.get("/courses/<int:offering_id>/waitlist")
@studio_required
def waitlist(offering_id: int):
    """Who is waiting to hear when this offering opens or a seat frees up, and how the latest telling is going."""
    offering = owned_offering_or_404(offering_id)
    listing = waitlist_page(offering, page_number(request.args))
    return render_template("studio/waitlist.html", offering=offering, listing=listing, notice=latest_notice(offering))


@bp.get("/courses/<int:offering_id>/waitlist.csv", endpoint="waitlist_csv")
@studio_required
def waitlist_csv_download(offering_id: int):
    """The waitlist as a spreadsheet-safe CSV, for the creator's own mailing tool."""
    offering = owned_offering_or_404(offering_id)
    return private_download(waitlist_csv(waitlist_entries(offering)), f"{offering.slug}-waitlist.csv")
