"""Sending e-mail: written to files by default, or sent over SMTP when configured."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from ..logs import error_summary
from ..models.base import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    """One message to one recipient."""

    to: str
    subject: str
    text: str
    html: str | None = None
    message_id: str | None = None  # the same on every attempt, so a receiver can tell a repeat
    reply_to: str | None = None  # where an answer goes (a therapist writing to their waitlist), not to us
    # A list's one-click unsubscribe (RFC 8058): mail apps show "Unsubscribe" and POST to it themselves.
    unsubscribe_url: str | None = None


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = mail.message_id or make_msgid(domain=_domain(sender))
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    if mail.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    return message


def _domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "aqueduct.local"


class FileMailer:
    """Writes each message as an .eml file, so nothing leaves the machine in development."""

    def __init__(self, directory: str, sender: str) -> None:
        self.directory = Path(directory)
        self.sender = sender

    @contextlib.contextmanager
    def batch(self) -> Iterator[FileMailer]:
        yield self

    def send(self, mail: Mail) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{utcnow():%Y%m%dT%H%M%S.%f}-{uuid.uuid4().hex[:8]}.eml"  # sorts in sending order
        (self.directory / name).write_bytes(bytes(build_message(mail, self.sender)))


class SmtpMailer:
    """Sends through an SMTP server (STARTTLS or implicit TLS, with optional login).

    Inside `batch()` one connection carries every message, as providers expect of bulk
    sending; a message the server refuses, or a connection that drops, costs only that
    message its turn: the next one opens a fresh connection.
    """

    def __init__(self, config) -> None:
        self.host = config["SMTP_HOST"]
        self.port = config["SMTP_PORT"]
        self.username = config["SMTP_USERNAME"]
        self.password = config["SMTP_PASSWORD"]
        self.starttls = config["SMTP_STARTTLS"]
        self.use_ssl = config["SMTP_SSL"]
        self.timeout = config["SMTP_TIMEOUT"]
        self.sender = config["MAIL_FROM"]
        self._batching = False
        self._client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.use_ssl:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls and not self.use_ssl:
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password)
        except BaseException:
            client.close()
            raise
        return client

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()
            client.close()

    @contextlib.contextmanager
    def batch(self) -> Iterator[SmtpMailer]:
        self._batching = True
        try:
            yield self
        finally:
            self._batching = False
            self._close()

    def send(self, mail: Mail) -> None:
        if not self._batching:
            with self._connect() as client:
                client.send_message(build_message(mail, self.sender))
            return
        if self._client is None:
            self._client = self._connect()
        try:
            self._client.send_message(build_message(mail, self.sender))
        except smtplib.SMTPRecipientsRefused:
            raise  # this address only: the connection is still good
        except BaseException:
            self._close()
            raise


def get_mailer():
    config = current_app.config
    if config["MAIL_BACKEND"] == "smtp":
        return SmtpMailer(config)
    return FileMailer(config["MAIL_DIR"], config["MAIL_FROM"])


def send_mail(to: str, subject: str, text: str, html: str | None = None) -> None:
    """Send one message with the configured backend."""
    get_mailer().send(Mail(to=to, subject=subject, text=text, html=html))


# ---------------------------------------------------------------------------
# The outbox: mail written with the change that causes it, delivered after the commit
# ---------------------------------------------------------------------------


def _server_unreachable(exc: Exception) -> bool:
    """A failure of the mail server as a whole (down, unreachable, refusing us), not of one message."""
    if isinstance(exc, smtplib.SMTPException):
        return isinstance(
            exc,
            (
                smtplib.SMTPConnectError,
                smtplib.SMTPServerDisconnected,
                smtplib.SMTPHeloError,
                smtplib.SMTPAuthenticationError,
            ),
        )
    return isinstance(exc, OSError)  # refused, timed out, no such host, TLS failed


MAX_ATTEMPTS = 10
# Waits before each new attempt: a message refused during a short outage goes out within a minute or two of
# its end, and one the server keeps refusing is tried for about four and a half hours before it is kept as failed.
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=1),
    timedelta(minutes=2),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
)


def _subject(subject: str) -> str:
    """A subject as a header can hold it: one line (a name with a line break in it can't stop the message)."""
    from ..fields import one_line

    return one_line(subject)[:255]


def send_after_commit(
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    *,
    job_id: int | None = None,
    unsubscribe_url: str | None = None,
) -> None:
    """Record a message in the current transaction; it goes out once that commits.

    A rolled-back transaction sends nothing (no receipt for a payment that wasn't
    recorded). A committed one keeps its message until the mail server accepts it: the
    job runner delivers it after the commit, and the sweeper (beat, or `flask deliver-mail`)
    sends whatever a crash or a mail server that was down left behind. `job_id` ties the
    message to the job that wrote it, whose page counts what has gone out.
    """
    from ..extensions import db
    from ..jobs import after_commit
    from ..models import OutgoingMail

    row = OutgoingMail(
        recipient=to, subject=_subject(subject), text=text, html=html, job_id=job_id, unsubscribe_url=unsubscribe_url
    )
    db.session.add(row)
    db.session.flush()
    after_commit("mail", row.id)


def send_many_after_commit(recipients: list[str], subject: str, text: str, *, job_id: int | None = None) -> int:
    """Record one message to each recipient in the current transaction (one statement); see `send_after_commit`."""
    return send_each_after_commit([ListMessage(to, text) for to in recipients], subject, job_id=job_id)


@dataclass(frozen=True)
class ListMessage:
    """One recipient's copy of a message to a mailing list: their own text and unsubscribe link."""

    to: str
    text: str
    unsubscribe_url: str | None = None


def send_each_after_commit(
    messages: list[ListMessage], subject: str, *, reply_to: str | None = None, job_id: int | None = None
) -> int:
    """Record one message to each recipient in the current transaction (one statement): the same subject,
    a text and unsubscribe link of their own; see `send_after_commit`."""
    from ..extensions import db
    from ..jobs import after_commit
    from ..models import OutgoingMail

    if not messages:
        return 0
    rows = [
        {
            "recipient": message.to,
            "subject": _subject(subject),
            "text": message.text,
            "reply_to": reply_to,
            "unsubscribe_url": message.unsubscribe_url,
            "job_id": job_id,
        }
        for message in messages
    ]
    ids = db.session.scalars(sa.insert(OutgoingMail).returning(OutgoingMail.id, sort_by_parameter_order=True), rows)
    count = 0
    for ident in ids:
        after_commit("mail", ident)
        count += 1
    return count


def deliver_committed() -> int:
    """Deliver here and now the messages this session recorded, if their transaction committed (commands)."""
    from ..extensions import db
    from ..jobs.dispatch import AFTER_COMMIT

    recorded = db.session.info.get(AFTER_COMMIT, [])
    ids = [ident for kind, ident in recorded if kind == "mail"]
    db.session.info[AFTER_COMMIT] = [entry for entry in recorded if entry[0] != "mail"]
    if not ids:
        return 0
    db.session.rollback()  # whatever is still open: uncommitted messages vanish with it
    return deliver_pending(ids)


def deliver_pending(ids: list[int] | None = None, limit: int = 500) -> int:
    """Send pending messages that are due (or just those with `ids`), each once; how many were accepted.

    Each message is locked while it is sent (`SKIP LOCKED`: two deliverers never send the
    same one) and marked sent in its own commit as soon as the server accepts it. A failure
    is recorded and retried later with a growing delay, up to MAX_ATTEMPTS.
    """
    from ..extensions import db
    from ..models import MailStatus, OutgoingMail

    mailer = get_mailer()
    query = sa.select(OutgoingMail.id).where(OutgoingMail.status == MailStatus.PENDING)
    if ids is not None:
        query = query.where(OutgoingMail.id.in_(ids))
    else:
        query = query.where(OutgoingMail.next_attempt_at <= utcnow())
    due = list(db.session.scalars(query.order_by(OutgoingMail.id).limit(limit)))
    db.session.rollback()
    with mailer.batch():
        return _deliver(mailer, due, due_only=ids is None)


def _deliver(mailer, due: list[int], *, due_only: bool) -> int:
    from ..extensions import db
    from ..models import MailStatus, OutgoingMail

    sent = 0
    for mail_id in due:
        still_wanted = [OutgoingMail.id == mail_id, OutgoingMail.status == MailStatus.PENDING]
        if due_only:  # another deliverer may have tried it meanwhile, and set its next turn
            still_wanted.append(OutgoingMail.next_attempt_at <= utcnow())
        row = db.session.scalar(sa.select(OutgoingMail).where(*still_wanted).with_for_update(skip_locked=True))
        if row is None:
            db.session.rollback()
            continue
        try:
            mailer.send(
                Mail(
                    to=row.recipient,
                    subject=row.subject,
                    text=row.text,
                    html=row.html,
                    message_id=f"<outbox.{row.id}.{row.created_at:%Y%m%d%H%M%S}@{_domain(mailer.sender)}>",
                    reply_to=row.reply_to,
                    unsubscribe_url=row.unsubscribe_url,
                )
            )
        except Exception as exc:
            # The message's id, never its address: the operator finds the recipient on /admin/jobs.
            log.warning("e-mail %s not accepted (attempt %s): %s", row.id, row.attempts + 1, error_summary(exc))
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if row.attempts >= MAX_ATTEMPTS:
                row.status = MailStatus.FAILED
            else:
                row.next_attempt_at = utcnow() + RETRY_DELAYS[min(row.attempts, len(RETRY_DELAYS)) - 1]
            db.session.commit()
            if _server_unreachable(exc):
                # The server itself can't be reached: the rest wait for the next sweep instead of each
                # spending a connection timeout now, and keep their turn (they weren't tried).
                break
        else:
            row.status, row.sent_at = MailStatus.SENT, utcnow()
            sent += 1
            db.session.commit()
    return sent


@dataclass(frozen=True)
class JobMail:
    """How the e-mails one job wrote are doing: accepted by the mail server, still waiting, given up."""

    sent: int = 0
    waiting: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.waiting + self.failed


def mail_of_job(job_id: int) -> JobMail:
    """Counts of a job's messages by delivery status (one query), for the page that follows the job."""
    from ..extensions import db
    from ..models import MailStatus, OutgoingMail

    counts = dict(
        db.session.execute(
            sa.select(OutgoingMail.status, sa.func.count())
            .where(OutgoingMail.job_id == job_id)
            .group_by(OutgoingMail.status)
        ).all()
    )
    return JobMail(
        sent=counts.get(MailStatus.SENT, 0),
        waiting=counts.get(MailStatus.PENDING, 0),
        failed=counts.get(MailStatus.FAILED, 0),
    )
