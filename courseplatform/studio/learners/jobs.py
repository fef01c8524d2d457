"""Enrolling a list in the background: the upload answers at once, a job enrols, the page follows it.

The whole list is enrolled in one transaction with the job's DONE mark, so a worker that dies
half-way leaves nothing applied and the next one starts over; the invitations are written to
the outbox in that same transaction and counted on the page as the mail server accepts them.
"""

from __future__ import annotations

from dataclasses import asdict

from ...extensions import db
from ...jobs import JobRefused, enqueue, job_of, job_progress
from ...models import Job, Offering, User
from .services import ImportReport, ListedPerson, Rejection, enrol_list

KIND = "learners.enrol_list"


def start_enrolling(
    offering: Offering, people: list[ListedPerson], report: ImportReport, *, notify: bool, by: User, filename: str
) -> Job:
    """Record the job that enrols the list (the caller commits; it runs after the commit)."""
    job = enqueue(
        KIND,
        {
            "people": [asdict(person) for person in people],
            "report": asdict(report),
            "notify": notify,
            "zone": by.time_zone,
            "filename": filename[:255],
        },
        owner_id=by.id,
        offering_id=offering.id,
    )
    job.progress_total = len(people)
    return job


def enrol_list_job(job: Job) -> dict:
    """The job: enrol everyone on the list, writing the invitations to the outbox; returns the report."""
    offering = db.session.get(Offering, job.offering_id) if job.offering_id else None
    if offering is None:
        raise JobRefused("The offering was deleted before the list could be enrolled.")
    payload = job.payload
    people = [ListedPerson(**person) for person in payload["people"]]
    report = report_from(payload["report"])
    enrol_list(offering, people, report, notify=payload["notify"], zone=payload["zone"], job_id=job.id)
    job_progress(job, len(people), len(people))
    return asdict(report)


def report_from(stored: dict) -> ImportReport:
    """An ImportReport back from its JSON form."""
    return ImportReport(
        invited=[ListedPerson(**person) for person in stored.get("invited", [])],
        enrolled=[ListedPerson(**person) for person in stored.get("enrolled", [])],
        already=[ListedPerson(**person) for person in stored.get("already", [])],
        rejected=[Rejection(**rejection) for rejection in stored.get("rejected", [])],
        blank_lines=stored.get("blank_lines", 0),
        header_line=stored.get("header_line"),
    )


def enrolment_job(offering: Offering, job_id: int) -> Job | None:
    """The course's list job with this id, or None."""
    return job_of(KIND, job_id, offering_id=offering.id)
