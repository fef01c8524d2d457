"""Command-line tasks: `flask seed-demo`, `create-admin`, `rebuild-stats`, `probe-media`, and the periodic work beat
runs in production (`storage-gc`, `prune-sessions`, `deliver-mail`, `send-reminders`, `warn-ce-approvals`,
`release-checkouts`, `run-jobs`), for a machine without a worker, or to run one by hand."""

from __future__ import annotations

import click
from flask import Flask, current_app

from .extensions import db


def register(app: Flask) -> None:
    register_setup(app)
    register_maintenance(app)
    register_delivery(app)


def register_setup(app: Flask) -> None:
    """The commands that fill a database: the demo data and an operator account."""

    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Fill the database with the demo therapist, learner, offerings and a year of income."""
        from .demo.seed import DEMO_PASSWORD, seed_demo

        if current_app.config["ENV_NAME"] == "production":
            # Their password is in the README, and one of them is an administrator.
            raise click.ClickException(
                "The demo accounts share a published password (an administrator's among them), so seed-demo "
                "does not run in production. Try the demo with AQUEDUCT_ENV=development on its own database."
            )
        created = seed_demo()
        db.session.commit()
        click.echo("Demo data created." if created else "Demo data already present; nothing changed.")
        click.echo(f"  Therapist: demo-therapist@aqueduct.test / {DEMO_PASSWORD}")
        click.echo(f"  Learner:   demo-learner@aqueduct.test / {DEMO_PASSWORD}")
        click.echo(f"  Admin:     demo-admin@aqueduct.test / {DEMO_PASSWORD}")

    @app.cli.command("create-admin")
    @click.argument("email")
    @click.option("--name", default="Administrator", show_default=True)
    @click.password_option(help="Password (asked for when not given).")
    def create_admin_command(email: str, name: str, password: str) -> None:
        """Create an operator account, or make an existing account an operator."""
        from .accounts.services import find_user_by_email, register_user

        user = find_user_by_email(email)
        if user is None:
            user = register_user(name, email, password)
        user.is_admin = True
        db.session.commit()
        click.echo(f"{user.email} is an administrator.")


def register_maintenance(app: Flask) -> None:
    """The clean-ups beat runs (abandoned uploads, expired login sessions) and the recount of the totals."""
    from .jobs import dispatch_committed, scheduled

    @app.cli.command("storage-gc")
    def storage_gc_command() -> None:
        """Remove what abandoned uploads left a day on, on either storage backend: pending uploads
        (object and record), unfinished multipart uploads, and staged files nobody published."""
        removed = scheduled.collect_storage()
        dispatch_committed()
        if removed.get("skipped"):
            raise click.ClickException("Another storage clean-up is running; nothing was done.")
        click.echo(f"Removed {removed['uploads']} abandoned upload{'' if removed['uploads'] == 1 else 's'}.")
        click.echo(
            f"Discarded {removed['multipart_uploads']} unfinished multipart upload"
            f"{'' if removed['multipart_uploads'] == 1 else 's'} and {removed['staged_files']} staged "
            f"file{'' if removed['staged_files'] == 1 else 's'}."
        )
        gone = removed["renditions"]
        click.echo(f"Removed {gone} streaming file{'' if gone == 1 else 's'} of deleted videos.")

    @app.cli.command("probe-media")
    def probe_media_command() -> None:
        """Queue `media.probe` for every ready video and audio file not read yet (uploaded before probing began)."""
        from .media.processing import unprobed_media

        queued = unprobed_media()
        db.session.commit()
        dispatch_committed()
        click.echo(f"Queued {queued} file{'' if queued == 1 else 's'} to be checked.")

    @app.cli.command("prune-sessions")
    def prune_sessions_command() -> None:
        """Delete expired login sessions, and sent e-mail and finished jobs a month old (beat: daily)."""
        removed = scheduled.prune_sessions()
        if removed.get("skipped"):
            raise click.ClickException("Another run is pruning login sessions; nothing was done.")
        click.echo(f"Removed {removed['removed']} expired login session{'' if removed['removed'] == 1 else 's'}.")
        click.echo(f"Removed {removed['mail']} sent e-mails and {removed['jobs']} finished jobs older than 30 days.")

    @app.cli.command("rebuild-stats")
    def rebuild_stats_command() -> None:
        """Recount the learner and sales totals from the enrollments and orders (after a bulk load or a restore)."""
        from . import stats

        stats.rebuild()
        db.session.commit()
        click.echo("Learner and sales totals recounted.")


def register_delivery(app: Flask) -> None:
    """The commands that send what is due: the outbox, the jobs nobody ran, expired checkouts, reminders."""
    from .integrations.mail import deliver_committed, deliver_pending
    from .jobs import dispatch_committed, scheduled

    @app.cli.command("deliver-mail")
    def deliver_mail_command() -> None:
        """Send the e-mail a crash or a mail server that was down left in the outbox (beat: every 30 s)."""
        sent = deliver_pending()
        click.echo(f"Sent {sent} message{'' if sent == 1 else 's'} from the outbox.")

    @app.cli.command("run-jobs")
    def run_jobs_command() -> None:
        """Run the jobs nobody ran (a crash, a queue that was down) and deliver the e-mail that is due."""
        from .jobs import sweep

        done = sweep()
        click.echo(
            f"Ran {done.jobs} job{'' if done.jobs == 1 else 's'}; "
            f"sent {done.messages} message{'' if done.messages == 1 else 's'} from the outbox."
        )

    @app.cli.command("release-checkouts")
    def release_checkouts_command() -> None:
        """Close checkouts that expired unpaid, giving their workshop seats back (beat: every 5 minutes)."""
        released = scheduled.release_expired_checkouts()
        dispatch_committed()  # the waitlist notices of the seats given back
        if released.get("skipped"):
            raise click.ClickException("Another run is releasing expired checkouts; nothing was done.")
        click.echo(f"Released {released['released']} expired checkout{'' if released['released'] == 1 else 's'}.")

    @app.cli.command("bill-test-plans")
    def bill_test_plans_command() -> None:
        """Test mode: take the payment plans' instalments that fell due, with their retries (beat: hourly)."""
        run = scheduled.bill_test_plans()
        if run.get("skipped"):
            raise click.ClickException("Another run is billing test-mode plans; nothing was done.")
        delivered = deliver_committed()
        click.echo(
            f"Took {run['paid']} payment{'' if run['paid'] == 1 else 's'}; {run['failed']} failed and will be "
            f"retried; {run['paused']} paused; {run['ended']} membership{'' if run['ended'] == 1 else 's'} ended; "
            f"{delivered} e-mails sent."
        )

    @app.cli.command("warn-ce-approvals")
    def warn_ce_approvals_command() -> None:
        """E-mail CE providers whose approval ends within 60 days, once per period (beat: daily)."""
        run = scheduled.warn_ce_approvals()
        if run.get("skipped"):
            raise click.ClickException("Another run is warning CE providers; nothing was done.")
        delivered = deliver_committed()
        click.echo(f"Warned {run['warned']} provider approval{'' if run['warned'] == 1 else 's'}; {delivered} sent.")

    @app.cli.command("send-reminders")
    def send_reminders_command() -> None:
        """E-mail learners about live sessions starting within a day, once per session (beat: every 15 minutes)."""
        run = scheduled.send_reminders()
        if run.get("skipped"):
            raise click.ClickException("Another run is sending reminders; nothing was done.")
        delivered = deliver_committed()
        click.echo(
            f"Sent {delivered} reminder{'' if delivered == 1 else 's'} "
            f"for {run['sessions']} session{'' if run['sessions'] == 1 else 's'}."
        )
        if delivered < run["messages"]:
            click.echo(
                f"{run['messages'] - delivered} more wait in the outbox: the mail server didn't accept them yet, "
                "and `flask deliver-mail` tries again."
            )
