"""Background jobs, recorded in the database with the change that asks for them."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .base import UTCDateTime, enum_column, utcnow


class JobStatus(enum.Enum):
    PENDING = "pending"  # waiting to run (new, or waiting to be tried again)
    RUNNING = "running"  # claimed by a worker until `lease_until`; a dead worker's job is claimed again
    DONE = "done"
    FAILED = "failed"  # given up; an operator sees the error and can run it again


class Job(Model):
    """One piece of background work (a CSV enrol, an import, a clean-up) and what became of it.

    The row is written in the transaction of the request that asks for the work, so a crash
    before the queue hears of it loses nothing: the sweeper finds it. Workers claim it with a
    lease; its own work and its DONE mark commit together, so it is never half-applied.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        sa.CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        sa.CheckConstraint("progress_done >= 0 AND progress_total >= 0", name="progress_non_negative"),
        sa.Index("ix_jobs_status_run_after", "status", "run_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[JobStatus] = mapped_column(enum_column(JobStatus, "job_status"), default=JobStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    offering_id: Mapped[int | None] = mapped_column(
        "course_id", sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    progress_done: Mapped[int] = mapped_column(default=0, server_default="0")
    progress_total: Mapped[int] = mapped_column(default=0, server_default="0")
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    last_error: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)
