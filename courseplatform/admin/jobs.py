"""Admin routes for background work: what failed for good, and running it again.

GET   /admin/jobs                      failed jobs and undelivered e-mail, newest first, with the queue's state
POST  /admin/jobs/<job>/retry          run a failed job again, with a fresh set of attempts
POST  /admin/mail/<message>/retry      try an undelivered e-mail again
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy.orm import defer

from ..access import admin_required
from ..extensions import db
from ..fields import page_number
from ..jobs import after_commit, retry_failed
from ..models import Job, JobStatus, MailStatus, OutgoingMail, utcnow
from ..pagination import paginate
from . import bp
from .audit import record

PER_PAGE = 50
KIND_LABELS = {
    "learners.enrol_list": "Enrol a list of learners",
    "sessions.import": "Import session income",
    "attendance.import": "Import live-session attendance",
    "storage.delete": "Delete stored files",
    "payments.delete_coupon": "Remove a lapsed checkout's Stripe coupon",
    "payments.return_fee_on_tax": "Give a creator back the platform fee Stripe took on tax",
    "payments.plan_schedule": "End a payment plan's Stripe subscription after its last instalment",
    "payments.plan_cancel": "Stop a payment plan's Stripe subscription",
    "media.probe": "Check an uploaded video or audio file",
    "media.ladder": "Make a video's streaming versions",
    "waitlist.notify": "E-mail a waitlist",
    "practice_waitlist.mail": "E-mail a therapist's practice waitlist",
}


class RetryForm(FlaskForm):
    """A Retry button: posts with a CSRF token."""


@bp.get("/jobs")
@admin_required
def jobs():
    """Work that failed for good, with its error, and how much waits: the first look when something is off."""
    page = page_number(request.args)
    failed = paginate(
        sa.select(Job)
        .where(Job.status == JobStatus.FAILED)
        .order_by(Job.finished_at.desc(), Job.id.desc())
        .options(defer(Job.payload), defer(Job.result)),  # a list job's payload can be megabytes
        page,
        PER_PAGE,
        keep_past_end=True,
    )
    undelivered = db.session.scalars(
        sa.select(OutgoingMail)
        .where(OutgoingMail.status == MailStatus.FAILED)
        .order_by(OutgoingMail.id.desc())
        .options(defer(OutgoingMail.text), defer(OutgoingMail.html))
        .limit(PER_PAGE)
    ).all()
    waiting = db.session.execute(
        sa.select(
            sa.select(sa.func.count(Job.id)).where(Job.status == JobStatus.PENDING).scalar_subquery(),
            sa.select(sa.func.count(Job.id)).where(Job.status == JobStatus.RUNNING).scalar_subquery(),
            sa.select(sa.func.count(OutgoingMail.id))
            .where(OutgoingMail.status == MailStatus.PENDING)
            .scalar_subquery(),
            sa.select(sa.func.count(OutgoingMail.id)).where(OutgoingMail.status == MailStatus.FAILED).scalar_subquery(),
        )
    ).one()
    return render_template(
        "admin/jobs.html",
        failed=failed,
        undelivered=undelivered,
        waiting=dict(zip(["jobs_pending", "jobs_running", "mail_pending", "mail_failed"], waiting, strict=True)),
        kinds=KIND_LABELS,
        form=RetryForm(),
    )


@bp.post("/jobs/<int:job_id>/retry")
@admin_required
def retry_job(job_id: int):
    """Run a failed job again from the start (its work commits all at once, so nothing is done twice)."""
    if not RetryForm().validate_on_submit():
        abort(400)
    job = db.get_or_404(Job, job_id)
    if job.status is not JobStatus.FAILED:
        flash(f"Job {job.id} is not failed (it is {job.status.value}); nothing was changed.", "info")
        return redirect(url_for("admin.jobs"))
    retry_failed(job)
    record("job.retry", job, f"{KIND_LABELS.get(job.kind, job.kind)}: {job.last_error}")
    flash(f"Job {job.id} will run again.", "success")
    return redirect(url_for("admin.jobs"))


@bp.post("/mail/<int:mail_id>/retry")
@admin_required
def retry_mail(mail_id: int):
    """Try an e-mail the mail server kept refusing once more (it is sent at most once)."""
    if not RetryForm().validate_on_submit():
        abort(400)
    message = db.get_or_404(OutgoingMail, mail_id)
    if message.status is not MailStatus.FAILED:
        flash(f"That e-mail is not undelivered (it is {message.status.value}); nothing was changed.", "info")
        return redirect(url_for("admin.jobs"))
    message.status, message.attempts, message.next_attempt_at = MailStatus.PENDING, 0, utcnow()
    record("mail.retry", message, f"To {message.recipient}: {message.subject}")
    db.session.flush()
    after_commit("mail", message.id)
    flash(f"The e-mail to {message.recipient} will be tried again.", "success")
    return redirect(url_for("admin.jobs"))
