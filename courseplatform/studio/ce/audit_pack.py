"""The audit pack of a CE offering: one ZIP with every record an accrediting body's auditor asks a provider for.

- `README.txt`: what the pack holds, for which offering, made when;
- `roster.csv`: each learner with their licences, enrolment, completion, hours and certificate;
- `attendance.csv`: each learner at each live session (the sign-in sheet): minutes, typed or imported, with the
  report's join and leave times, minutes late, early and away, the check-in, and the minutes credited and why;
- `post_test_attempts.csv`: every quiz attempt with its score and result;
- `evaluations.csv` and `evaluation_summary.txt`: the evaluations (anonymous) and their averages;
- `certificates.csv`: every certificate issued, with its numbers past and present and whether it stands;
- `certificate_trail.csv`: every revocation, reissue and correction, with who, when and why;
- `program/`: the offering's description and CE details as they stood on each date (its snapshots),
  and as they stand now, with the approvals and presenters.

Each file is read with a bounded number of queries, whatever the number of learners.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime

import sqlalchemy as sa

from ...continuing_education import ce_content, creator_today
from ...downloads import spreadsheet_safe
from ...extensions import db
from ...learning.progress import credit_notes, credited_minutes
from ...models import (
    Attendance,
    AuditEntry,
    Certificate,
    CESnapshot,
    Enrollment,
    LearnerLicence,
    Lesson,
    LiveCheckIn,
    LiveSession,
    Offering,
    QuizAttempt,
    SupersededCertificate,
    User,
    utcnow,
)
from .services import evaluation_summary, evaluations_csv


def audit_pack(offering: Offering, now: datetime | None = None) -> bytes:
    """The offering's audit pack as ZIP bytes."""
    now = now or utcnow()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as pack:
        pack.writestr("README.txt", _readme(offering, now))
        pack.writestr("roster.csv", _roster(offering))
        pack.writestr("attendance.csv", _attendance(offering))
        pack.writestr("post_test_attempts.csv", _attempts(offering))
        pack.writestr("evaluations.csv", evaluations_csv(offering))
        pack.writestr("evaluation_summary.txt", _summary(offering))
        pack.writestr("certificates.csv", _certificates(offering))
        pack.writestr("certificate_trail.csv", _trail(offering))
        pack.writestr("program/now.json", _json(ce_content(offering, creator_today(offering.creator, now))))
        for snapshot in db.session.scalars(
            sa.select(CESnapshot).where(CESnapshot.offering_id == offering.id).order_by(CESnapshot.taken_at)
        ):
            name = f"program/{snapshot.taken_at:%Y-%m-%dT%H%M%SZ}-{snapshot.id}.json"
            pack.writestr(name, _json({"taken_at": snapshot.taken_at.isoformat(), "occasion": snapshot.occasion,
                                       **snapshot.content}))  # fmt: skip
    return out.getvalue()


def _json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _table(header: list[str], rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([spreadsheet_safe(value) if isinstance(value, str) else value for value in row])
    return out.getvalue()


def _readme(offering: Offering, now: datetime) -> str:
    return (
        f"Audit pack of “{offering.title}” ({offering.slug}), made by Aqueduct on {now:%Y-%m-%d %H:%M} UTC.\n"
        f"Provider: {offering.creator.ce_provider_name or offering.creator.display_name}.\n\n"
        + (__doc__ or "").split("\n\n", 1)[1].rsplit("\n\n", 1)[0]
        + "\n"
    )


def _stamp(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _roster(offering: Offering) -> str:
    rows = db.session.execute(
        sa.select(Enrollment, User, Certificate)
        .join(User, User.id == Enrollment.user_id)
        .outerjoin(Certificate, Certificate.enrollment_id == Enrollment.id)
        .where(Enrollment.offering_id == offering.id)
        .order_by(User.name, Enrollment.id)
    ).all()
    licences: dict[int, list[str]] = {}
    user_ids = [user.id for _enrollment, user, _certificate in rows]
    for licence in db.session.scalars(
        sa.select(LearnerLicence).where(LearnerLicence.user_id.in_(user_ids)).order_by(LearnerLicence.id)
    ):
        licences.setdefault(licence.user_id, []).append(str(licence))
    return _table(
        ["name", "email", "licences", "enrolled_at", "status", "completed_at", "ce_hours", "certificate_number",
         "certificate_licence", "certificate_issued_at", "certificate_revoked_at"],
        (
            [
                user.name,
                user.email,
                "; ".join(licences.get(user.id, [])),
                _stamp(enrollment.enrolled_at),
                enrollment.status.value,
                _stamp(enrollment.completed_at),
                f"{(certificate.ce_minutes or 0) / 60:g}" if certificate else "",
                certificate.number if certificate else "",
                certificate.learner_licence if certificate else "",
                _stamp(certificate.issued_at) if certificate else "",
                _stamp(certificate.revoked_at) if certificate else "",
            ]
            for enrollment, user, certificate in rows
        ),
    )  # fmt: skip


def _attendance(offering: Offering) -> str:
    checked_in = sa.select(LiveCheckIn.checked_in_at).where(
        LiveCheckIn.live_session_id == LiveSession.id, LiveCheckIn.enrollment_id == Attendance.enrollment_id
    )
    rows = db.session.execute(
        sa.select(LiveSession, Attendance, User, credited_minutes(offering), checked_in.scalar_subquery())
        .join(Attendance, Attendance.live_session_id == LiveSession.id)
        .join(Enrollment, Enrollment.id == Attendance.enrollment_id)
        .join(User, User.id == Enrollment.user_id)
        .where(LiveSession.offering_id == offering.id)
        .order_by(LiveSession.starts_at, User.name)
    ).all()
    return _table(
        ["session", "starts_at", "duration_minutes", "name", "email", "minutes_attended", "recorded_from",
         "joined_and_left", "minutes_late", "minutes_early", "minutes_away", "checked_in_at", "minutes_credited",
         "no_credit_because"],
        (
            [session.title, _stamp(session.starts_at), session.duration_minutes, user.name, user.email,
             attendance.minutes_attended, attendance.source,
             "; ".join(f"{joined} to {left}" for joined, left in attendance.intervals or []),
             attendance.late_minutes, attendance.early_minutes, attendance.away_minutes,
             _stamp(checked), credited,
             "; ".join(credit_notes(offering, session, attendance, checked is not None))]
            for session, attendance, user, credited, checked in rows
        ),
    )  # fmt: skip


def _attempts(offering: Offering) -> str:
    rows = db.session.execute(
        sa.select(QuizAttempt, Lesson.title, User)
        .join(Lesson, Lesson.id == QuizAttempt.lesson_id)
        .join(Enrollment, Enrollment.id == QuizAttempt.enrollment_id)
        .join(User, User.id == Enrollment.user_id)
        .where(Enrollment.offering_id == offering.id)
        .order_by(User.name, Lesson.title, QuizAttempt.attempt_number)
    ).all()
    return _table(
        ["name", "email", "quiz", "attempt", "score_percent", "passed", "submitted_at"],
        (
            [user.name, user.email, title, attempt.attempt_number, attempt.score_percent,
             "yes" if attempt.passed else "no", _stamp(attempt.submitted_at)]
            for attempt, title, user in rows
        ),
    )  # fmt: skip


def _summary(offering: Offering) -> str:
    summary = evaluation_summary(offering)
    lines = [f"{summary.count} evaluation(s); ratings from 1 (strongly disagree) to 5 (strongly agree).", ""]
    lines += [
        f"Objective {n}: {text}: {average if average is not None else '—'}"
        for n, (text, average) in enumerate(summary.objectives, 1)
    ]
    lines += [f"{text} {average if average is not None else '—'}" for text, average in summary.statements]
    return "\n".join(lines) + "\n"


def _certificates(offering: Offering) -> str:
    certificates = list(
        db.session.scalars(
            sa.select(Certificate)
            .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
            .where(Enrollment.offering_id == offering.id)
            .order_by(Certificate.issued_at, Certificate.id)
        )
    )
    superseded: dict[int, list[str]] = {}
    for old in db.session.scalars(
        sa.select(SupersededCertificate)
        .where(SupersededCertificate.certificate_id.in_([certificate.id for certificate in certificates]))
        .order_by(SupersededCertificate.superseded_at)
    ):
        superseded.setdefault(old.certificate_id, []).append(old.number)
    return _table(
        ["number", "earlier_numbers", "learner", "licence", "body", "ce_hours", "format", "category", "provider",
         "provider_number", "approval_period", "issued_at", "reissued_at", "revoked_at", "statement"],
        (
            [certificate.number, " ".join(superseded.get(certificate.id, [])), certificate.learner_name,
             certificate.learner_licence, certificate.ce_body, f"{(certificate.ce_minutes or 0) / 60:g}",
             certificate.ce_format, certificate.ce_category, certificate.provider_name, certificate.provider_number,
             certificate.approval_period, _stamp(certificate.issued_at), _stamp(certificate.reissued_at),
             _stamp(certificate.revoked_at), certificate.ce_approval_statement]
            for certificate in certificates
        ),
    )  # fmt: skip


def _trail(offering: Offering) -> str:
    certificate_ids = (
        sa.select(Certificate.id)
        .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
        .where(Enrollment.offering_id == offering.id)
    )
    entries = db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.target_type == Certificate.__tablename__, AuditEntry.target_id.in_(certificate_ids))
        .order_by(AuditEntry.created_at, AuditEntry.id)
    )
    return _table(
        ["at", "certificate_id", "action", "by", "what", "why"],
        ([_stamp(e.created_at), e.target_id, e.action, e.actor_email, e.detail, e.reason] for e in entries),
    )
