"""Found by a second review of the practice waitlist and the testimonials confirmation, each fixed: a published
offering for the public without the confirmation, and a message queued before the therapist was suspended."""

from __future__ import annotations

import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Audience, Job, OfferingStatus, OutgoingMail, utcnow

from ..catalog.test_client_facing import DETAILS as PUBLIC_DETAILS
from .lists import on_list

# Details of an offering for the public, as the studio's form sends them, with the testimonials box unticked.
DETAILS = {**PUBLIC_DETAILS, "title": "Grounding for Clinicians", "subtitle": "", "testimonials_unsolicited": ""}


def _published_public_without_confirmation(offering) -> bool:
    return (
        offering.status is OfferingStatus.PUBLISHED
        and offering.audience is Audience.PUBLIC
        and not offering.testimonials_unsolicited
    )


def test_a_published_offering_switched_to_the_public_needs_the_testimonials_confirmation(web, signed_in):
    """Publishing checks the confirmation, but Details of an offering already published don't: a published
    offering for clinicians switched to the public (or one for the public with the box unticked) stays listed,
    on the catalog and on the practice waitlist page, with no confirmation. CE credit is refused here on save
    (test_a_published_offering_for_the_public_never_gains_ce_credit_on_details); the testimonials aren't."""
    offering = next(o for o in signed_in.offerings if o.slug == "grounding")
    assert offering.status is OfferingStatus.PUBLISHED and offering.audience is Audience.CLINICIANS

    web.submit(f"/studio/courses/{offering.id}/edit", {**DETAILS, "slug": offering.slug})
    db.session.refresh(offering)

    assert not _published_public_without_confirmation(offering), (
        "a published offering for the public without the confirmation (it is on the waitlist page now)"
    )


def test_unticking_the_confirmation_of_a_published_offering_for_the_public_is_not_accepted(web, signed_in):
    offering = next(o for o in signed_in.offerings if o.slug == "while-you-wait")
    offering.testimonials_unsolicited = True
    db.session.flush()

    web.submit(f"/studio/courses/{offering.id}/edit", {**DETAILS, "title": offering.title, "slug": offering.slug})
    db.session.refresh(offering)

    assert not _published_public_without_confirmation(offering)


def test_a_message_queued_before_the_therapist_was_suspended_is_not_sent(app, signed_in, mailbox):
    """Suspension closes the studio and the waitlist page (`is_open`), but a message to the list queued just
    before is still written to everyone, from a therapist the operators have just stopped (a revoked licence,
    a complaint): "a place has opened, reply to me". The offering waitlist's job checks this
    (`notify_waitlist_job`: "Closed again since the notice was asked for (suspended ...)")."""
    from courseplatform.practice import mail_job, start_mailing

    on_list(signed_in, "ann@example.org", "bo@example.org")
    with app.test_request_context():
        start_mailing(signed_in, "A place opened", "Hi, a place has opened.", None, "1" * 32)
        job = db.session.scalar(sa.select(Job).where(Job.kind == "practice_waitlist.mail"))
        signed_in.suspended_at = utcnow()  # the operator suspends the therapist before a worker gets to it
        db.session.flush()
        assert mail_job(job)["written"] == 0
    queued = db.session.scalar(sa.select(sa.func.count(OutgoingMail.id)).where(OutgoingMail.job_id == job.id))
    assert queued == 0, "nobody on the list is written to on behalf of a suspended therapist"
