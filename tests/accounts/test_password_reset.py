"""Forgotten and changed passwords: e-mailed, expiring, single-use links."""

from __future__ import annotations

import re
import socket

import pytest

from courseplatform.extensions import db, limiter

from ..factories import PASSWORD, UserFactory
from ..helpers import Browserless, csrf_token_from

LINK_RE = re.compile(r"http://aqueduct\.test(/password/reset/\S+)")
NEW = "a brand new passphrase"


def request_reset(web, mailbox, email: str) -> str:
    response = web.submit("/password/forgot", {"email": email})
    assert "If that address has an account" in response.get_data(as_text=True)
    return LINK_RE.search(mailbox.last_body()).group(1)


def test_reset_by_email_changes_the_password_once(web, client, mailbox):
    user = UserFactory(email="jordan@example.org")
    path = request_reset(web, mailbox, "Jordan@Example.org")
    message = mailbox.messages[-1]
    assert message["To"] == "jordan@example.org"
    assert message["Subject"] == "Reset your Aqueduct password"

    response = web.submit(path, {"password": NEW, "confirm": NEW})
    assert "Your password has been changed. Log in with the new one." in response.get_data(as_text=True)

    assert "don&#39;t match an account" in web.login("jordan@example.org", PASSWORD).get_data(as_text=True)
    assert "You&#39;re logged in." in web.login("jordan@example.org", NEW).get_data(as_text=True)
    web.logout()

    reused = client.get(path, follow_redirects=True)
    assert "This reset link has already been used." in reused.get_data(as_text=True)
    db.session.refresh(user)
    assert user.session_version == 2


def test_unknown_email_gets_the_same_answer_the_same_work_and_a_no_account_mail(web, mailbox, count_queries):
    """Neither the page, the work done nor the mail sent tells whether an address has an account."""
    UserFactory(email="jordan@example.org")
    answers, statements = {}, {}
    for email in ["jordan@example.org", "nobody@example.org"]:
        page = web.client.get("/password/forgot")
        with count_queries() as counter:
            answer = web.client.post(
                "/password/forgot", data={"csrf_token": csrf_token_from(page.get_data(as_text=True)), "email": email}
            )
        answers[email] = (answer.status_code, answer.headers["Location"])
        statements[email] = counter.count
    assert answers["jordan@example.org"] == answers["nobody@example.org"] == (302, "/login")
    assert statements["jordan@example.org"] == statements["nobody@example.org"]
    assert [m["To"] for m in mailbox.messages] == ["jordan@example.org", "nobody@example.org"]
    unknown = mailbox.messages[1]
    assert unknown["Subject"] == "About your Aqueduct password"
    assert "there is no account with it" in unknown.get_body(preferencelist=("plain",)).get_content()


def test_a_mail_server_that_is_down_answers_the_same_for_both(app, web, mailbox, monkeypatch):
    UserFactory(email="jordan@example.org")
    for key, value in {"MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": 9, "SMTP_TIMEOUT": 2}.items():
        monkeypatch.setitem(app.config, key, value)
    for email in ["jordan@example.org", "nobody@example.org"]:
        response = web.submit("/password/forgot", {"email": email}, follow_redirects=False)
        assert (response.status_code, response.headers["Location"]) == (302, "/login")


def test_one_address_gets_only_a_few_messages_whoever_asks(web, client, mailbox):
    for n in range(4):
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        response = web.submit("/password/forgot", {"email": "target@example.org"}, follow_redirects=False)
    assert response.status_code == 429
    assert len(mailbox.messages) == 3


@pytest.mark.parametrize("path", ["/password/forgot", "/signup"])
def test_one_address_gets_only_a_few_messages_however_it_is_spelt(web, client, mailbox, path):
    """An internationalised domain in Unicode or in punycode, full-width letters: one mailbox, one limit."""
    spellings = ["target@exämple.org", "target@xn--exmple-cua.org", "target@ｅxämple.org", "TARGET@XN--EXMPLE-CUA.ORG"]
    for n, spelling in enumerate(spellings):
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        response = web.submit(path, {"email": spelling, "name": "Target", "time_zone": "UTC"}, follow_redirects=False)
    assert response.status_code == 429
    assert len(mailbox.messages) == 3


def test_a_huge_address_leaves_the_rate_limit_store_a_short_key(app, web, client):
    """Half a megabyte typed as an e-mail address must not become half a megabyte kept (in Redis) for an hour."""
    huge = "a" * 400_000 + "@example.org"
    attempts = [("/login", {"email": huge, "password": "wrong password!"}), ("/password/forgot", {"email": huge})]
    for path, data in attempts:
        assert web.submit(path, data, follow_redirects=False).status_code in (200, 302)
    storage = limiter.storage
    keys = [*getattr(storage, "storage", {}), *getattr(storage, "events", {})]
    assert keys, "the limits were counted"
    assert max(len(key) for key in keys) < 200


def test_expired_reset_link_is_refused(app, web, client, mailbox, monkeypatch):
    user = UserFactory(email="jordan@example.org")
    old_hash = user.password_hash
    path = request_reset(web, mailbox, "jordan@example.org")
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE", -1)
    response = client.get(path, follow_redirects=True)
    assert "This reset link has expired." in response.get_data(as_text=True)
    token = csrf_token_from(client.get("/password/forgot").get_data(as_text=True))
    response = client.post(path, data={"csrf_token": token, "password": NEW, "confirm": NEW}, follow_redirects=True)
    assert "This reset link has expired." in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.password_hash == old_hash


def test_tampered_reset_link_is_refused(client):
    response = client.get("/password/reset/not-a-real-token", follow_redirects=True)
    assert "This reset link is not valid." in response.get_data(as_text=True)


def test_weak_new_password_changes_nothing(web, mailbox):
    user = UserFactory(email="jordan@example.org")
    old_hash = user.password_hash
    path = request_reset(web, mailbox, "jordan@example.org")
    response = web.submit(path, {"password": "short", "confirm": "short"})
    assert "Use at least 10 characters." in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.password_hash == old_hash


def test_change_password_needs_the_current_one_and_ends_other_sessions(app, web, client):
    UserFactory(email="jordan@example.org")
    other_device = app.test_client()
    Browserless(other_device).login("jordan@example.org", PASSWORD)
    web.login("jordan@example.org", PASSWORD)

    response = web.submit("/account", {"current_password": "wrong one!", "password": NEW, "confirm": NEW})
    assert "Your current password is not right." in response.get_data(as_text=True)

    response = web.submit("/account", {"current_password": PASSWORD, "password": NEW, "confirm": NEW})
    assert "Other devices have been logged out." in response.get_data(as_text=True)
    assert client.get("/account").status_code == 200, "this device stays logged in"
    assert other_device.get("/account").status_code == 302, "the other device is logged out"


def test_reset_mail_goes_out_over_smtp_when_configured(app, web, monkeypatch):
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = aiosmtpd.Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for key, value in {
            "MAIL_BACKEND": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": port,
            "SMTP_STARTTLS": False,
            "SMTP_SSL": False,
        }.items():
            monkeypatch.setitem(app.config, key, value)
        UserFactory(email="jordan@example.org")
        web.submit("/password/forgot", {"email": "jordan@example.org"})
    finally:
        controller.stop()
    assert len(received) == 1
    assert received[0].rcpt_tos == ["jordan@example.org"]
    assert b"/password/reset/" in received[0].content
