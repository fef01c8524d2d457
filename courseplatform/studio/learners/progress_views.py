"""One learner in detail for the creator: progress, quiz results, evaluation and certificate.

GET  /studio/courses/<id>/learners/<enrollment>                       the learner's record in this offering
POST /studio/courses/<id>/learners/<enrollment>/certificate/correct   reissue it with the name or licence corrected
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload

from ...access import owned_offering_or_404, studio_required
from ...certificate_trail import certificate_trail
from ...enrollments.states import state_of
from ...extensions import db
from ...learning.certificates import (
    Completion,
    CorrectionRefused,
    completion_of,
    correct_certificate,
)
from ...learning.progress import (
    AttendanceSummary,
    OfferingProgress,
    credit_notes,
    credited_minutes,
    offering_progress,
)
from ...models import Attendance, Enrollment, LessonKind, LiveCheckIn, LiveSession, Offering, QuizAttempt
from .. import bp
from ..offerings.forms import ConfirmForm
from .forms import CertificateCorrectionForm
from .services import SOURCE_LABELS, STATE_LABELS


@dataclass(frozen=True)
class QuizResult:
    """Every attempt one learner made at one quiz, with the best score."""

    lesson_title: str
    pass_percent: int
    attempts: list[QuizAttempt]

    @property
    def best(self) -> int | None:
        return max((attempt.score_percent for attempt in self.attempts), default=None)

    @property
    def passed(self) -> bool:
        return any(attempt.passed for attempt in self.attempts)


@dataclass(frozen=True)
class SessionAttendance:
    session: LiveSession
    attendance: Attendance | None
    credited: int  # minutes counted for the certificate, under the offering's attendance rules
    notes: tuple[str, ...] = ()  # why the session counts nothing


@dataclass(frozen=True)
class LearnerRecord:
    """What the creator sees of one learner in one offering."""

    enrollment: Enrollment
    progress: OfferingProgress
    quizzes: list[QuizResult]
    sessions: list[SessionAttendance]
    attendance: AttendanceSummary | None
    completion: Completion

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[self.enrollment.source]

    @property
    def status_label(self) -> str:
        return STATE_LABELS[state_of(self.enrollment)]

    @property
    def order_label(self) -> str:
        return self.enrollment.order.status.label if self.enrollment.order else ""


def _enrollment(offering: Offering, enrollment_id: int) -> Enrollment | None:
    return db.session.scalar(
        sa.select(Enrollment)
        .where(Enrollment.id == enrollment_id, Enrollment.offering_id == offering.id)
        .options(joinedload(Enrollment.user), joinedload(Enrollment.order))
    )


def learner_record(offering: Offering, enrollment: Enrollment) -> LearnerRecord:
    """The learner's lessons, quiz attempts, live attendance, evaluation and certificate (six queries)."""
    zone = enrollment.user.time_zone
    progress = offering_progress(offering, enrollment, zone=zone)
    attempts = db.session.scalars(
        sa.select(QuizAttempt)
        .where(QuizAttempt.enrollment_id == enrollment.id)
        .order_by(QuizAttempt.lesson_id, QuizAttempt.attempt_number)
    ).all()
    by_lesson = {lesson_id: list(rows) for lesson_id, rows in groupby(attempts, key=lambda a: a.lesson_id)}
    quizzes = [
        QuizResult(status.lesson.title, status.lesson.quiz_pass_percent, by_lesson.get(status.lesson.id, []))
        for status in progress.lessons
        if status.lesson.kind is LessonKind.QUIZ
    ]
    rows = db.session.execute(
        sa.select(LiveSession, Attendance, credited_minutes(offering))
        .outerjoin(
            Attendance,
            sa.and_(Attendance.live_session_id == LiveSession.id, Attendance.enrollment_id == enrollment.id),
        )
        .where(LiveSession.offering_id == offering.id)
        .order_by(LiveSession.starts_at, LiveSession.id)
    ).all()
    checked_in = set(
        db.session.scalars(sa.select(LiveCheckIn.live_session_id).where(LiveCheckIn.enrollment_id == enrollment.id))
        if offering.checkin_required and rows
        else ()
    )
    sessions = [
        SessionAttendance(
            session,
            attendance,
            int(credited),
            tuple(credit_notes(offering, session, attendance, session.id in checked_in)),
        )
        for session, attendance, credited in rows
    ]
    attendance = None
    if sessions:
        # Counted as the certificate counts it.
        attended = sum(row.credited for row in sessions)
        scheduled = sum(row.session.duration_minutes for row in sessions)
        attendance = AttendanceSummary(attended, scheduled, offering.min_attendance_percent)
    return LearnerRecord(enrollment, progress, quizzes, sessions, attendance, completion_of(enrollment))


@bp.get("/courses/<int:offering_id>/learners/<int:enrollment_id>")
@studio_required
def learner_progress(offering_id: int, enrollment_id: int):
    """One learner's record: lessons done, quiz attempts, live attendance, evaluation and certificate."""
    offering = owned_offering_or_404(offering_id)
    enrollment = _enrollment(offering, enrollment_id)
    if enrollment is None:
        abort(404)
    return _record_page(offering, enrollment)


def _record_page(offering: Offering, enrollment: Enrollment, correction: CertificateCorrectionForm | None = None):
    record = learner_record(offering, enrollment)
    certificate = record.completion.certificate
    if correction is None and certificate is not None:
        correction = CertificateCorrectionForm(obj=certificate, formdata=None)
    return render_template(
        "studio/learner_progress.html",
        offering=offering,
        record=record,
        confirm=ConfirmForm(),
        correction=correction,
        trail=certificate_trail(certificate) if certificate is not None else [],
        active_tab="studio.learners",
    )


@bp.post("/courses/<int:offering_id>/learners/<int:enrollment_id>/certificate/correct")
@studio_required
def correct_learner_certificate(offering_id: int, enrollment_id: int):
    """Reissue the certificate with the learner's name or licence corrected: a new number, the old one superseded."""
    offering = owned_offering_or_404(offering_id)
    enrollment = _enrollment(offering, enrollment_id)
    certificate = completion_of(enrollment).certificate if enrollment is not None else None
    if enrollment is None or certificate is None:
        abort(404)
    form = CertificateCorrectionForm()
    if not form.validate_on_submit():
        return _record_page(offering, enrollment, form), 400
    # A correction racing another waits for it, then reads the number it left.
    db.session.refresh(certificate, with_for_update=True)
    try:
        old = correct_certificate(
            certificate,
            learner_name=form.learner_name.data,
            learner_licence=form.learner_licence.data or "",
            reason=form.reason.data,
            by=current_user._get_current_object(),
        )
    except CorrectionRefused as refused:
        db.session.rollback()
        flash(str(refused), "error")
    else:
        flash(f"Reissued as {certificate.number}; {old.number} now verifies as superseded.", "success")
    return redirect(url_for("studio.learner_progress", offering_id=offering.id, enrollment_id=enrollment.id))
