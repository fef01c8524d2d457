"""Background work that outlives the request which asks for it.

A job or an e-mail is written in the same transaction as the change that causes it, and
handed to a runner only after that transaction commits (`dispatch_committed`):

- `celery`: a Celery worker on Redis (`REDIS_URL`), with beat running the schedules;
- `thread`: the embedded default, a thread of this process, so `make run` needs no server;
- `inline`: in the request itself, right after the commit (the tests).

A crash between the commit and the hand-off loses nothing: `sweep` (beat, every 30 s, or
`flask run-jobs`) finds what is due and was never run. Workers claim a job with a lease, so
two never run it at once, and a dead worker's job is claimed again when its lease ends. A job
whose work runs for minutes outside the database (a transcode) lets go of its transaction and
keeps the job by renewing its lease (`Heartbeat`).
"""

from .dispatch import after_commit, dispatch_committed
from .runner import Heartbeat, JobRefused, LeaseLost, enqueue, job_of, job_progress, retry_failed, run_job, sweep

__all__ = [
    "Heartbeat",
    "JobRefused",
    "LeaseLost",
    "after_commit",
    "dispatch_committed",
    "enqueue",
    "job_of",
    "job_progress",
    "retry_failed",
    "run_job",
    "sweep",
]
