"""Signing up, logging in and out: the happy paths and every way to get them wrong."""

from __future__ import annotations

import re
import statistics
import time

import pytest
from argon2 import PasswordHasher

from courseplatform.accounts.services import hash_password
from courseplatform.extensions import db
from courseplatform.models import User
from courseplatform.studio.learners.services import INVITED_MARKER

from ..factories import PASSWORD, UserFactory
from ..helpers import csrf_token_from

GOOD = {
    "name": "Ana Ruiz",
    "email": "Ana.Ruiz@Example.org",
    "time_zone": "America/Chicago",
}
CHOSEN = "quiet harbour 42"
FINISH_LINK = re.compile(r"http://aqueduct\.test(/signup/finish/\S+)")


def user_count() -> int:
    return db.session.scalar(db.select(db.func.count(User.id)))


def finish_link(mailbox) -> str:
    match = FINISH_LINK.search(mailbox.last_body())
    assert match, mailbox.last_body()
    return match.group(1)


def test_signup_emails_a_link_then_the_chosen_password_opens_the_account(web, mailbox):
    response = web.submit("/signup", GOOD)
    assert response.request.path == "/signup/sent"
    assert "ana.ruiz@example.org" in response.get_data(as_text=True)
    assert user_count() == 0, "nothing is stored until the link is opened"
    assert [m["To"] for m in mailbox.messages] == ["ana.ruiz@example.org"]
    assert mailbox.messages[0]["Subject"] == "Finish creating your Aqueduct account"

    link = finish_link(mailbox)
    response = web.submit(link, {"password": CHOSEN, "confirm": CHOSEN})
    html = response.get_data(as_text=True)
    assert "Welcome to Aqueduct, Ana Ruiz." in html
    assert response.request.path == "/learn"
    user = db.session.scalar(db.select(User).filter_by(email="ana.ruiz@example.org"))
    assert user is not None and user.time_zone == "America/Chicago"
    assert user.password_hash.startswith("$argon2id$")
    assert "quiet harbour" not in user.password_hash


def test_signup_returns_to_the_page_it_started_from(web, mailbox):
    page = web.client.get("/signup?next=/courses/some-course")
    web.client.post(
        "/signup?next=/courses/some-course", data={"csrf_token": csrf_token_from(page.get_data(as_text=True)), **GOOD}
    )
    response = web.submit(finish_link(mailbox), {"password": CHOSEN, "confirm": CHOSEN}, follow_redirects=False)
    assert response.headers["Location"] == "/courses/some-course"


def test_a_used_signup_link_sends_to_log_in(web, mailbox):
    web.submit("/signup", GOOD)
    link = finish_link(mailbox)
    web.submit(link, {"password": CHOSEN, "confirm": CHOSEN})
    web.logout()
    response = web.client.get(link)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert user_count() == 1


@pytest.mark.parametrize("token", ["not-a-token", "eyJuIjoiQSJ9.forged.signature"])
def test_a_forged_signup_link_is_refused(client, token):
    response = client.get(f"/signup/finish/{token}")
    assert response.status_code == 302 and response.headers["Location"] == "/signup"
    assert user_count() == 0


def test_an_expired_signup_link_is_refused(web, mailbox, monkeypatch):
    import courseplatform.accounts.services as services

    web.submit("/signup", GOOD)
    link = finish_link(mailbox)
    monkeypatch.setattr(services, "SIGNUP_MAX_AGE", -1)
    response = web.client.get(link, follow_redirects=True)
    assert "This sign-up link has expired" in response.get_data(as_text=True)
    assert user_count() == 0


def test_signup_answers_the_same_for_a_taken_address_and_emails_its_owner(web, mailbox):
    """Sign-up never says whether an address has an account; the account's owner hears about it."""
    UserFactory(email="ana.ruiz@example.org", name="Ana R.")
    before = user_count()
    taken = web.submit("/signup", {**GOOD, "email": "ANA.RUIZ@EXAMPLE.ORG"})
    taken_mail = mailbox.messages
    mailbox.clear()
    fresh = web.submit("/signup", {**GOOD, "email": "someone.new@example.org"})

    assert taken.request.path == fresh.request.path == "/signup/sent"
    assert taken.get_data(as_text=True).replace("ana.ruiz@example.org", "X") == fresh.get_data(as_text=True).replace(
        "someone.new@example.org", "X"
    )
    assert user_count() == before
    assert [m["To"] for m in taken_mail] == ["ana.ruiz@example.org"]
    body = taken_mail[0].get_body(preferencelist=("plain",)).get_content()
    assert "you\nalready have an account" in body and "/password/reset/" in body


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1", "Use at least 10 characters."),
        ("password123", "too easy to guess"),
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("ana.ruiz@example.org", "can&#39;t be your e-mail address"),
    ],
)
def test_finishing_signup_refuses_weak_passwords(web, mailbox, password, message):
    web.submit("/signup", GOOD)
    response = web.submit(finish_link(mailbox), {"password": password, "confirm": password})
    assert message in response.get_data(as_text=True)
    assert user_count() == 0


def test_signup_needs_a_real_email_and_finishing_needs_matching_passwords(web, mailbox):
    html = web.submit("/signup", {**GOOD, "email": "not-an-email"}).get_data(as_text=True)
    assert "Enter an e-mail address such as name@example.com." in html
    assert mailbox.messages == []
    web.submit("/signup", GOOD)
    html = web.submit(finish_link(mailbox), {"password": CHOSEN, "confirm": "something else"}).get_data(as_text=True)
    assert "The two passwords don&#39;t match." in html
    assert user_count() == 0


def test_signup_without_csrf_token_is_refused(client):
    before = user_count()
    response = client.post("/signup", data=GOOD)
    assert response.status_code == 400
    assert "This form expired or was sent from somewhere else" in response.get_data(as_text=True)
    assert user_count() == before


def test_login_and_logout(web, client):
    user = UserFactory(email="jordan@example.org")
    response = web.login("JORDAN@example.org", PASSWORD)
    assert "You&#39;re logged in." in response.get_data(as_text=True)
    assert "My learning" in client.get("/learn").get_data(as_text=True)
    db.session.refresh(user)
    assert user.last_login_at is not None

    response = web.logout()
    assert "You&#39;re logged out." in response.get_data(as_text=True)
    assert client.get("/learn").status_code == 302


def test_logout_is_not_a_get(client):
    assert client.get("/logout").status_code == 405


@pytest.mark.parametrize("email", ["jordan@example.org", "nobody@example.org"])
def test_wrong_password_or_unknown_email_get_the_same_message(web, client, email):
    UserFactory(email="jordan@example.org")
    response = web.login(email, "not the right password")
    assert response.status_code == 200
    assert "That e-mail and password don&#39;t match an account." in response.get_data(as_text=True)
    assert client.get("/learn").status_code == 302


def test_remember_me_sets_a_lasting_cookie(web, client):
    UserFactory(email="jordan@example.org")
    web.login("jordan@example.org", PASSWORD, remember=True)
    cookie = client.get_cookie("remember_token")
    assert cookie is not None
    assert cookie.http_only and cookie.same_site == "Lax"
    assert cookie.expires is not None


def test_session_cookie_is_http_only_and_lax(web, client):
    UserFactory(email="jordan@example.org")
    web.login("jordan@example.org", PASSWORD)
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_too_many_login_attempts_are_refused(web, client):
    UserFactory(email="jordan@example.org")
    for _ in range(10):
        assert web.login("jordan@example.org", "wrong password!").status_code == 200
    response = web.login("jordan@example.org", PASSWORD)
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    assert client.get("/learn").status_code == 302, "the right password is refused too while limited"


def test_one_account_is_limited_whatever_the_address(web, client):
    """Guessing one person's password from many addresses is stopped too, and only failures count."""
    UserFactory(email="jordan@example.org")
    for n in range(10):
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        assert web.login("jordan@example.org", "wrong password!").status_code == 200
    client.environ_base["REMOTE_ADDR"] = "198.51.100.99"
    assert web.login("jordan@example.org", PASSWORD).status_code == 429


def test_successful_logins_do_not_use_up_the_account_limit(web, client):
    UserFactory(email="jordan@example.org")
    for n in range(12):
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        assert "You&#39;re logged in." in web.login("jordan@example.org", PASSWORD).get_data(as_text=True)
        web.logout()


@pytest.mark.usefixtures("production_password_hashing")
def test_a_wrong_login_takes_as_long_for_an_invited_account_as_for_an_unknown_address(
    web, client, production_password_hashing
):
    """An account a creator made for someone who hasn't chosen a password yet must not answer faster."""
    UserFactory(email="invited@example.org", password_hash=INVITED_MARKER)

    def seconds(email: str, n: int) -> float:
        # CPU time, at production's hashing cost: what the server spends, not how busy the machine is
        # (wall time under a parallel test run once made the unknown address look slower).
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        started = time.process_time()
        assert "don&#39;t match" in web.login(email, "wrong password!").get_data(as_text=True)
        return time.process_time() - started

    invited, unknown = [], []
    for n in range(4):
        invited.append(seconds("invited@example.org", 2 * n))
        unknown.append(seconds("nobody@example.org", 2 * n + 1))
    # A password check (Argon2) is most of either answer; without it the invited one took a twentieth.
    assert statistics.median(invited) > 0.6 * statistics.median(unknown)


def test_login_follows_next_only_within_the_site(web):
    UserFactory(email="jordan@example.org")
    page = web.client.get("/login?next=//evil.example/steal")
    response = web.client.post(
        "/login?next=//evil.example/steal",
        data={
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
            "email": "jordan@example.org",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/learn"


def test_pages_that_need_an_account_send_visitors_to_log_in(client):
    for url in ["/learn", "/account", "/become-a-creator", "/studio", "/admin"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url


@pytest.mark.usefixtures("production_password_hashing")
def test_passwords_are_hashed_at_owasps_argon2id_minimum_not_more():
    assert hash_password("calm river stones").startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.usefixtures("production_password_hashing")
def test_a_password_hashed_with_the_old_heavier_parameters_still_logs_in_and_is_rehashed(web):
    heavier = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)  # argon2-cffi's defaults, used before
    user = UserFactory(email="early@example.org", password_hash=heavier.hash("calm river stones"))
    db.session.commit()
    web.login("early@example.org", "calm river stones")
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
