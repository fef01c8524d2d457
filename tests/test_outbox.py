"""The outbox: e-mail is written with the change that causes it and is never lost or sent twice.

Measured before: with the mail server down, `flask send-reminders` printed "Sent 39 reminders",
marked the session reminded, and the next run sent nothing: the reminders were lost.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.integrations.mail import MAX_ATTEMPTS, deliver_committed, send_after_commit
from courseplatform.models import MailStatus, OutgoingMail, utcnow

from .factories.live import learner, session_in, workshop


def mail_server_down(app):
    """The configured SMTP server refuses connections (nothing listens on port 9 of loopback)."""
    app.config.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=9, SMTP_TIMEOUT=2)


def mail_server_back(app):
    app.config.update(MAIL_BACKEND="file")


def rows(status: MailStatus | None = None) -> list[OutgoingMail]:
    db.session.expire_all()
    query = sa.select(OutgoingMail).order_by(OutgoingMail.id)
    if status is not None:
        query = query.where(OutgoingMail.status == status)
    return list(db.session.scalars(query))


def test_reminders_sent_while_the_mail_server_is_down_arrive_once_it_is_back(app, runner, mailbox):
    offering = workshop()
    session_in(offering, minutes_from_now=3 * 60)
    for n in range(3):
        learner(offering, email=f"learner{n}@example.org")
    mail_server_down(app)
    try:
        result = runner.invoke(args=["send-reminders"])
    finally:
        mail_server_back(app)
    assert "Sent 0 reminders for 1 session." in result.output
    assert "3 more wait in the outbox" in result.output
    assert mailbox.messages == []
    waiting = rows(MailStatus.PENDING)
    # One connection attempt told that the server is down: the others keep their turn for the next sweep
    # instead of each waiting for a connection to fail.
    assert len(waiting) == 3 and [row.attempts for row in waiting] == [1, 0, 0]
    assert "ConnectionRefusedError" in waiting[0].last_error

    # The server is back: the next sweep sends those still due; the one tried waits its minute.
    assert "Sent 2 messages" in runner.invoke(args=["deliver-mail"]).output
    waiting[0].next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    assert "Sent 1 message from the outbox." in runner.invoke(args=["deliver-mail"]).output
    assert sorted(m["To"] for m in mailbox.messages) == [f"learner{n}@example.org" for n in range(3)]
    # A second sweep, or the next reminder run, sends nothing again.
    assert "Sent 0 messages" in runner.invoke(args=["deliver-mail"]).output
    assert "Sent 0 reminders for 0 sessions." in runner.invoke(args=["send-reminders"]).output
    assert len(mailbox.messages) == 3


def test_a_crash_between_the_commit_and_the_delivery_loses_nothing(app, runner, mailbox):
    with app.app_context():
        send_after_commit("jo@example.org", "Your receipt", "Thank you.")
        db.session.commit()
        # The process dies here: deliver_committed() never runs.
        db.session.info.clear()
    assert mailbox.messages == []
    assert "Sent 1 message from the outbox." in runner.invoke(args=["deliver-mail"]).output
    assert [m["Subject"] for m in mailbox.messages] == ["Your receipt"]
    assert [row.status for row in rows()] == [MailStatus.SENT]


def test_a_rolled_back_change_leaves_no_message(app, mailbox):
    with app.app_context():
        send_after_commit("jo@example.org", "Never", "This change was rolled back.")
        db.session.rollback()
        assert deliver_committed() == 0
    assert rows() == [] and mailbox.messages == []


def test_a_message_the_server_never_accepts_is_given_up_and_kept_for_an_operator(app, runner, mailbox):
    with app.app_context():
        send_after_commit("jo@example.org", "Your receipt", "Thank you.")
        db.session.commit()
        db.session.info.clear()
    mail_server_down(app)
    try:
        for _ in range(MAX_ATTEMPTS):
            for row in rows(MailStatus.PENDING):
                row.next_attempt_at = utcnow() - timedelta(seconds=1)
            db.session.commit()
            runner.invoke(args=["deliver-mail"])
    finally:
        mail_server_back(app)
    (row,) = rows()
    assert row.status is MailStatus.FAILED and row.attempts == MAX_ATTEMPTS
    assert "ConnectionRefusedError" in row.last_error
    assert "Sent 0 messages" in runner.invoke(args=["deliver-mail"]).output
    assert mailbox.messages == []


def test_a_waitlist_notice_is_written_with_its_mark_so_a_killed_request_mails_nobody_twice(app, mailbox):
    from courseplatform.enrollments.waitlist import join_waitlist, notify_waitlist
    from courseplatform.jobs import dispatch_committed

    from .factories import OfferingFactory

    offering = OfferingFactory(title="Grounding Skills")
    for n in range(3):
        join_waitlist(offering, f"waiting{n}@example.org")
    db.session.commit()

    # The request is killed after writing the notices: nothing was marked, nothing goes out.
    assert notify_waitlist(offering, "open") == 3
    db.session.rollback()
    assert deliver_committed() == 0 and mailbox.messages == []

    # Done again, it commits: its job marks and mails each person once, and a third call writes nothing.
    assert notify_waitlist(offering, "open") == 3
    db.session.commit()
    dispatch_committed()
    assert len(mailbox.messages) == 3
    assert notify_waitlist(offering, "open") == 0
    db.session.commit()
    dispatch_committed()
    assert sorted(m["To"] for m in mailbox.messages) == [f"waiting{n}@example.org" for n in range(3)]


def test_a_message_keeps_its_message_id_across_attempts_so_a_repeat_can_be_recognised(app, runner, mailbox):
    send_after_commit("learner@example.org", "Your receipt", "Thank you.")
    db.session.commit()
    mail_server_down(app)
    try:
        assert deliver_committed() == 0
    finally:
        mail_server_back(app)
    row = rows(MailStatus.PENDING)[0]
    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert "Sent 1 message" in runner.invoke(args=["deliver-mail"]).output
    assert mailbox.messages[0]["Message-ID"].startswith(f"<outbox.{row.id}.")
    assert mailbox.messages[0]["Message-ID"].endswith("@aqueduct.test>")


class RecordingServer:
    """An SMTP server on loopback that notes which connection carried each message, and refuses one address."""

    def __init__(self) -> None:
        self.received: list[tuple[int, str]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((id(session), envelope.rcpt_tos[0]))
        return "250 OK"


def test_one_connection_carries_a_batch_and_a_refused_address_costs_only_its_own_message(app, monkeypatch):
    from aiosmtpd.controller import Controller

    from .servers import free_port

    handler = RecordingServer()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for key, value in {"MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port}.items():
            monkeypatch.setitem(app.config, key, value)
        monkeypatch.setitem(app.config, "SMTP_STARTTLS", False)
        for name in ["ana", "ben", "nobody", "cy", "di"]:
            send_after_commit(f"{name}@example.org", "You're invited", "Choose a password.")
        db.session.commit()
        assert deliver_committed() == 4
    finally:
        controller.stop()
    assert [to for _, to in handler.received] == [
        "ana@example.org",
        "ben@example.org",
        "cy@example.org",
        "di@example.org",
    ]
    assert len({connection for connection, _ in handler.received}) == 1
    refused = rows(MailStatus.PENDING)
    assert [row.recipient for row in refused] == ["nobody@example.org"]
    assert refused[0].attempts == 1 and "No such user" in refused[0].last_error
