"""Sending e-mail: written to files by default, or sent over SMTP when configured."""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..models.base import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    """One message to one recipient."""

    to: str
    subject: str
    text: str
    html: str | None = None


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain="aqueduct.local")
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    return message


class FileMailer:
    """Writes each message as an .eml file, so nothing leaves the machine in development."""

    def __init__(self, directory: str, sender: str) -> None:
        self.directory = Path(directory)
        self.sender = sender

    def send(self, mail: Mail) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{utcnow():%Y%m%dT%H%M%S.%f}-{uuid.uuid4().hex[:8]}.eml"  # sorts in sending order
        (self.directory / name).write_bytes(bytes(build_message(mail, self.sender)))


class SmtpMailer:
    """Sends through an SMTP server (STARTTLS or implicit TLS, with optional login)."""

    def __init__(self, config) -> None:
        self.host = config["SMTP_HOST"]
        self.port = config["SMTP_PORT"]
        self.username = config["SMTP_USERNAME"]
        self.password = config["SMTP_PASSWORD"]
        self.starttls = config["SMTP_STARTTLS"]
        self.use_ssl = config["SMTP_SSL"]
        self.timeout = config["SMTP_TIMEOUT"]
        self.sender = config["MAIL_FROM"]

    def send(self, mail: Mail) -> None:
        context = ssl.create_default_context()
        if self.use_ssl:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.starttls and not self.use_ssl:
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password)
            client.send_message(build_message(mail, self.sender))


def get_mailer():
    config = current_app.config
    if config["MAIL_BACKEND"] == "smtp":
        return SmtpMailer(config)
    return FileMailer(config["MAIL_DIR"], config["MAIL_FROM"])


def send_mail(to: str, subject: str, text: str, html: str | None = None) -> None:
    """Send one message with the configured backend."""
    get_mailer().send(Mail(to=to, subject=subject, text=text, html=html))


# ---------------------------------------------------------------------------
# Mail that follows the database: sent when the transaction commits, dropped if it rolls back
# ---------------------------------------------------------------------------

OUTBOX = "aqueduct.outbox"


def send_after_commit(to: str, subject: str, text: str, html: str | None = None) -> None:
    """Queue a message on the current database session; it goes out once the session commits.

    A rolled-back transaction sends nothing (no receipt for a payment that wasn't
    recorded), and a mail server that is down never undoes what was committed: the
    failure is logged and the work stands.
    """
    from ..extensions import db

    session = db.session()
    session.connection()  # begin the transaction now, so its end (commit or rollback) is seen
    session.info.setdefault(OUTBOX, []).append(Mail(to=to, subject=subject, text=text, html=html))


@event.listens_for(Session, "after_commit")
def _send_outbox(session: Session) -> None:
    for mail in session.info.pop(OUTBOX, []):
        try:
            get_mailer().send(mail)
        except Exception:
            log.exception("e-mail %r to %s could not be sent after commit", mail.subject, mail.to)


@event.listens_for(Session, "after_transaction_end")
def _drop_outbox(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(OUTBOX, None)  # only a rollback leaves anything here
