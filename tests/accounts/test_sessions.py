"""Login sessions: logging out ends every copy of this device's cookies, and the account page ends the others."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import LoginSession, User, utcnow

from ..factories import PASSWORD, UserFactory
from ..helpers import Browserless

FIREFOX_ON_LINUX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_ON_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
LINK_RE = re.compile(r"http://aqueduct\.test(/password/reset/\S+)")
NEW = "a brand new passphrase"


def device(app, user_agent: str | None = None) -> Browserless:
    """Another browser: a client with its own cookie jar (and, if given, its own User-Agent)."""
    client = app.test_client()
    if user_agent:
        client.environ_base["HTTP_USER_AGENT"] = user_agent
    return Browserless(client)


def copy_of(app, web: Browserless, *cookie_names: str):
    """A fresh client holding only copies of the named cookies, as a thief who copied them would."""
    thief = app.test_client()
    for name in cookie_names:
        cookie = web.client.get_cookie(name)
        assert cookie is not None, f"the browser has no {name} cookie to copy"
        thief.set_cookie(name, cookie.value)
    return thief


def is_logged_in(client) -> bool:
    response = client.get("/account")
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login"), response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


def test_logout_ends_a_copied_session_cookie(app, web):
    UserFactory(email="jordan@example.org")
    web.login("jordan@example.org", PASSWORD)
    thief = copy_of(app, web, "session")
    assert is_logged_in(thief), "a copy taken while logged in works, as the real cookie does"

    web.logout()

    assert not is_logged_in(thief), "the copied session cookie opened the account after logout"
    assert not is_logged_in(web.client)


def test_logout_ends_a_copied_remember_cookie(app, web):
    UserFactory(email="jordan@example.org")
    web.login("jordan@example.org", PASSWORD, remember=True)
    thief = copy_of(app, web, "remember_token")

    web.logout()

    assert not is_logged_in(thief), "the copied remember_token opened the account after logout"


def test_logout_ends_copies_of_both_cookies_together(app, web):
    UserFactory(email="jordan@example.org")
    web.login("jordan@example.org", PASSWORD, remember=True)
    thief = copy_of(app, web, "session", "remember_token")

    web.logout()

    assert not is_logged_in(thief)


def test_an_admins_copied_cookie_opens_no_admin_page_after_logout(app, web):
    UserFactory(email="operator@example.org", is_admin=True)
    web.login("operator@example.org", PASSWORD, remember=True)
    assert web.client.get("/admin").status_code == 200
    thief = copy_of(app, web, "session", "remember_token")

    web.logout()

    response = thief.get("/admin")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_session_on_one_device_survives_logging_out_on_another(app, web):
    UserFactory(email="jordan@example.org")
    phone = device(app)
    phone.login("jordan@example.org", PASSWORD, remember=True)
    web.login("jordan@example.org", PASSWORD)

    web.logout()

    assert is_logged_in(phone.client)
    assert is_logged_in(copy_of(app, phone, "remember_token")), "the phone's remember cookie still works"


def test_log_out_everywhere_else_ends_every_other_device_and_keeps_this_one(app, web):
    UserFactory(email="jordan@example.org")
    phone = device(app)
    phone.login("jordan@example.org", PASSWORD)
    laptop = device(app)
    laptop.login("jordan@example.org", PASSWORD, remember=True)
    laptop_remembered = copy_of(app, laptop, "remember_token")
    web.login("jordan@example.org", PASSWORD)

    response = web.submit("/account/sessions/logout-others", {}, form_url="/account")

    assert "You&#39;ve been logged out on 2 other devices." in response.get_data(as_text=True)
    assert not is_logged_in(phone.client)
    assert not is_logged_in(laptop.client)
    assert not is_logged_in(laptop_remembered)
    assert is_logged_in(web.client), "this device stays logged in"
    assert "logged in on this device only" in web.client.get("/account").get_data(as_text=True)


def test_log_out_everywhere_else_needs_the_csrf_token(app, web):
    UserFactory(email="jordan@example.org")
    phone = device(app)
    phone.login("jordan@example.org", PASSWORD)
    web.login("jordan@example.org", PASSWORD)

    response = web.client.post("/account/sessions/logout-others")

    assert response.status_code == 400
    assert is_logged_in(phone.client)


def test_one_other_device_can_be_logged_out_from_the_account_page(app, web):
    user = UserFactory(email="jordan@example.org")
    phone = device(app, SAFARI_ON_IPHONE)
    phone.login("jordan@example.org", PASSWORD)
    laptop = device(app, FIREFOX_ON_LINUX)
    laptop.login("jordan@example.org", PASSWORD)
    web.login("jordan@example.org", PASSWORD)
    phone_session = db.session.scalar(sa.select(LoginSession).filter_by(user_id=user.id, device="Mobile Safari on iOS"))

    response = web.submit(f"/account/sessions/{phone_session.id}/logout", {}, form_url="/account")

    assert "Mobile Safari on iOS has been logged out." in response.get_data(as_text=True)
    assert not is_logged_in(phone.client)
    assert is_logged_in(laptop.client)
    assert is_logged_in(web.client)


def test_nobody_can_log_out_someone_elses_device(app, web):
    UserFactory(email="jordan@example.org")
    other = UserFactory(email="sam@example.org")
    sams_phone = device(app)
    sams_phone.login("sam@example.org", PASSWORD)
    sams_session = db.session.scalar(sa.select(LoginSession).filter_by(user_id=other.id))
    web.login("jordan@example.org", PASSWORD)

    page = web.client.get("/account")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    for session_id in (sams_session.id, 0, 2**31, 10**30):
        response = web.client.post(f"/account/sessions/{session_id}/logout", data={"csrf_token": token})
        assert response.status_code == 404, session_id

    assert is_logged_in(sams_phone.client)
    assert is_logged_in(web.client)


def test_the_account_page_lists_where_i_am_logged_in(app):
    UserFactory(email="jordan@example.org")
    device(app, SAFARI_ON_IPHONE).login("jordan@example.org", PASSWORD)
    laptop = device(app, FIREFOX_ON_LINUX)
    laptop.login("jordan@example.org", PASSWORD)

    html = laptop.client.get("/account").get_data(as_text=True)

    assert "You're logged in on 2 devices." in html
    items = re.findall(r'<li class="device">(.*?)</li>', html, re.S)
    devices = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip() for item in items]
    assert len(devices) == 2
    assert devices[0].startswith("Firefox on Ubuntu this device Logged in"), devices[0]
    assert devices[1].startswith("Mobile Safari on iOS Logged in"), devices[1]
    assert "this device" not in devices[1]


def test_a_password_change_ends_other_sessions_but_not_this_one(app, web):
    UserFactory(email="jordan@example.org")
    phone = device(app)
    phone.login("jordan@example.org", PASSWORD, remember=True)
    phone_remembered = copy_of(app, phone, "remember_token")
    web.login("jordan@example.org", PASSWORD, remember=True)

    response = web.submit("/account", {"current_password": PASSWORD, "password": NEW, "confirm": NEW})

    assert "Other devices have been logged out." in response.get_data(as_text=True)
    assert is_logged_in(web.client)
    assert is_logged_in(copy_of(app, web, "remember_token")), "this device's remember cookie still works"
    assert not is_logged_in(phone.client)
    assert not is_logged_in(phone_remembered)


def test_a_password_reset_ends_every_session(app, web, mailbox):
    UserFactory(email="jordan@example.org")
    laptop = device(app)
    laptop.login("jordan@example.org", PASSWORD, remember=True)
    laptop_remembered = copy_of(app, laptop, "remember_token")

    web.submit("/password/forgot", {"email": "jordan@example.org"})
    path = LINK_RE.search(mailbox.last_body()).group(1)
    web.submit(path, {"password": NEW, "confirm": NEW})

    assert not is_logged_in(laptop.client)
    assert not is_logged_in(laptop_remembered)
    assert not is_logged_in(web.client)


def test_an_invited_learner_who_sets_a_password_gets_a_session_that_logout_ends(app, web, mailbox):
    from courseplatform.accounts.services import password_link

    invited = UserFactory(email="new.learner@example.org", password_hash="!invited")
    path = password_link(invited, invite=True).removeprefix("http://aqueduct.test")

    response = web.submit(path, {"password": NEW, "confirm": NEW})
    assert "Your password is set." in response.get_data(as_text=True)
    assert is_logged_in(web.client)
    thief = copy_of(app, web, "session")

    web.logout()

    assert not is_logged_in(thief)


def test_a_signup_session_is_ended_by_logout_too(app, web, mailbox):
    web.submit("/signup", {"name": "Ana Ruiz", "email": "ana@example.org", "time_zone": "UTC"})
    link = re.search(r"http://aqueduct\.test(/signup/finish/\S+)", mailbox.last_body()).group(1)
    web.submit(link, {"password": NEW, "confirm": NEW})
    assert is_logged_in(web.client)
    thief = copy_of(app, web, "session")

    web.logout()

    assert not is_logged_in(thief)


def test_finishing_a_signup_in_a_browser_remembered_as_someone_else_logs_them_out(app, web, mailbox):
    """A shared computer: the newcomer must not find the browser back in the previous person's account later."""
    UserFactory(email="jordan@example.org")
    web.login("jordan@example.org", PASSWORD, remember=True)
    jordans_cookies = copy_of(app, web, "session", "remember_token")
    device(app).submit("/signup", {"name": "Ana Ruiz", "email": "ana@example.org", "time_zone": "UTC"})
    link = re.search(r"http://aqueduct\.test(/signup/finish/\S+)", mailbox.last_body()).group(1)

    web.submit(link, {"password": NEW, "confirm": NEW})
    web.client.delete_cookie("session")  # the browser is closed and opened again

    assert "jordan@example.org" not in web.client.get("/account", follow_redirects=True).get_data(as_text=True)
    assert not is_logged_in(jordans_cookies)


def test_a_session_ends_when_it_expires(app, web):
    user = UserFactory(email="jordan@example.org")
    web.login("jordan@example.org", PASSWORD, remember=True)
    row = db.session.scalar(sa.select(LoginSession).filter_by(user_id=user.id))
    expected = row.created_at + timedelta(seconds=app.config["REMEMBER_COOKIE_DURATION"])
    assert abs(row.expires_at - expected) < timedelta(seconds=5)

    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()

    assert not is_logged_in(web.client)
    assert not is_logged_in(copy_of(app, web, "remember_token"))


def test_cookies_from_before_login_sessions_existed_log_in_once_more(app, client):
    """After the upgrade, a cookie carrying the old "<id>:<session version>" opens nothing."""
    user = UserFactory(email="jordan@example.org")
    for old_id in [f"{user.id}:{user.session_version}", f"{user.id}", "", "x:y", f"{user.id}:" + "a" * 5000]:
        with client.session_transaction() as session:
            session["_user_id"] = old_id
            session["_fresh"] = True
        assert not is_logged_in(client), old_id[:40]


def test_the_token_is_stored_only_as_a_hash(app, web):
    user = UserFactory(email="jordan@example.org")
    web.login("jordan@example.org", PASSWORD, remember=True)
    remember = web.client.get_cookie("remember_token").value
    token = remember.split("|", 1)[0].split(":", 1)[1]
    row = db.session.scalar(sa.select(LoginSession).filter_by(user_id=user.id))
    assert len(token) >= 40
    assert token not in row.token_hash
    assert db.session.scalar(sa.select(sa.func.count()).where(LoginSession.token_hash.contains(token))) == 0


def test_logging_in_clears_my_expired_sessions(app, web):
    user = UserFactory(email="jordan@example.org")
    for _ in range(3):
        web.login("jordan@example.org", PASSWORD)
        web.logout()
    device(app).login("jordan@example.org", PASSWORD)
    db.session.execute(
        sa.update(LoginSession).filter_by(user_id=user.id).values(expires_at=utcnow() - timedelta(days=1))
    )

    web.login("jordan@example.org", PASSWORD)

    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession).filter_by(user_id=user.id)) == 1


def test_an_account_keeps_a_bounded_number_of_sessions(app, client, monkeypatch):
    from courseplatform.accounts import services

    monkeypatch.setattr(services, "MAX_LOGIN_SESSIONS", 3)
    UserFactory(email="jordan@example.org")
    devices = [device(app) for _ in range(4)]
    for n, each in enumerate(devices):
        each.client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        each.login("jordan@example.org", PASSWORD)

    assert [is_logged_in(each.client) for each in devices] == [False, True, True, True]


def test_prune_sessions_removes_expired_sessions(app, web, runner):
    user = UserFactory(email="jordan@example.org")
    other = UserFactory(email="sam@example.org")
    web.login("jordan@example.org", PASSWORD)
    device(app).login("sam@example.org", PASSWORD)
    db.session.execute(
        sa.update(LoginSession).filter_by(user_id=other.id).values(expires_at=utcnow() - timedelta(minutes=1))
    )

    result = runner.invoke(args=["prune-sessions"])

    assert result.exit_code == 0, result.output
    assert "Removed 1 expired login session." in result.output
    remaining = db.session.scalars(sa.select(LoginSession.user_id)).all()
    assert remaining == [user.id]
    assert is_logged_in(web.client)


@pytest.mark.parametrize("page", ["/account", "/learn"])
def test_the_user_loader_runs_one_query_however_many_sessions_an_account_has(app, page, count_queries):
    UserFactory(email="jordan@example.org")
    web = device(app)
    web.login("jordan@example.org", PASSWORD)
    counts = []
    for extra_devices in (0, 12):
        for n in range(extra_devices):
            other = device(app)
            other.client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
            other.login("jordan@example.org", PASSWORD)
        with count_queries() as counter:
            assert web.client.get(page).status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], f"{page}: {counts[0]} queries with 1 device, {counts[1]} with 13"

    with count_queries() as counter:
        assert web.client.get("/courses").status_code == 200
    anonymous_like = counter.count
    with count_queries() as counter:
        assert app.test_client().get("/courses").status_code == 200
    assert anonymous_like - counter.count == 1, "loading the logged-in user costs one query"


def test_the_session_row_belongs_to_the_user_it_names(app, web):
    """A token of one account with another account's id in front opens nothing."""
    jordan = UserFactory(email="jordan@example.org")
    sam = UserFactory(email="sam@example.org")
    web.login("jordan@example.org", PASSWORD)
    with web.client.session_transaction() as session:
        uid, token = session["_user_id"].split(":", 1)
        assert int(uid) == jordan.id
        session["_user_id"] = f"{sam.id}:{token}"
    assert not is_logged_in(web.client)
    assert db.session.get(User, sam.id) is not None


def test_logging_out_this_device_from_the_list_logs_me_out(app, web):
    user = UserFactory(email="jordan@example.org")
    web.login("jordan@example.org", PASSWORD, remember=True)
    thief = copy_of(app, web, "session", "remember_token")
    mine = db.session.scalar(sa.select(LoginSession).filter_by(user_id=user.id))

    response = web.submit(f"/account/sessions/{mine.id}/logout", {}, form_url="/account")

    assert "You&#39;re logged out." in response.get_data(as_text=True)
    assert not is_logged_in(web.client)
    assert not is_logged_in(thief)
