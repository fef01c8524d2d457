"""Signing up, logging in and out: the happy paths and every way to get them wrong."""

from __future__ import annotations

import pytest

from courseplatform.extensions import db
from courseplatform.models import User

from ..conftest import csrf_token_from
from ..factories import PASSWORD, UserFactory

GOOD = {
    "name": "Ana Ruiz",
    "email": "Ana.Ruiz@Example.org",
    "password": "quiet harbour 42",
    "confirm": "quiet harbour 42",
    "time_zone": "America/Chicago",
}


def user_count() -> int:
    return db.session.scalar(db.select(db.func.count(User.id)))


def test_signup_creates_a_learner_and_logs_in(web):
    response = web.submit("/signup", GOOD)
    html = response.get_data(as_text=True)
    assert "Welcome to Aqueduct, Ana Ruiz." in html
    assert response.request.path == "/learn"
    user = db.session.scalar(db.select(User).filter_by(email="ana.ruiz@example.org"))
    assert user is not None and user.time_zone == "America/Chicago"
    assert user.password_hash.startswith("$argon2id$")
    assert "quiet harbour" not in user.password_hash


def test_signup_refuses_an_email_taken_in_another_case(web):
    UserFactory(email="ana.ruiz@example.org")
    before = user_count()
    response = web.submit("/signup", {**GOOD, "email": "ANA.RUIZ@EXAMPLE.ORG"})
    assert "An account with this e-mail already exists" in response.get_data(as_text=True)
    assert user_count() == before


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1", "Use at least 10 characters."),
        ("password123", "too easy to guess"),
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("ana.ruiz@example.org", "can&#39;t be your e-mail address"),
    ],
)
def test_signup_refuses_weak_passwords(web, password, message):
    before = user_count()
    response = web.submit("/signup", {**GOOD, "password": password, "confirm": password})
    assert message in response.get_data(as_text=True)
    assert user_count() == before


def test_signup_needs_matching_passwords_and_a_real_email(web):
    before = user_count()
    html = web.submit("/signup", {**GOOD, "confirm": "something else entirely"}).get_data(as_text=True)
    assert "The two passwords don&#39;t match." in html
    html = web.submit("/signup", {**GOOD, "email": "not-an-email"}).get_data(as_text=True)
    assert "Enter an e-mail address such as name@example.com." in html
    assert user_count() == before


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
