"""Attacks on the job queue, outbox, static files, request ids and operator console that held, kept as tests."""

from __future__ import annotations

from courseplatform.extensions import db

from ..factories import PASSWORD, CreatorProfileFactory, OfferingFactory, UserFactory
from ..helpers import Browserless


def get(client, url: str, **kwargs):
    return client.get(url, buffered=True, **kwargs)


def test_static_addresses_never_reach_outside_static(client):
    for url in (
        "/static/../wsgi.py",
        "/static/%2e%2e/wsgi.py",
        "/static/css/..%2f..%2fwsgi.py",
        "/static/css/app.0123456789ab..%2f..%2fwsgi.py",
        "/static/..%2f..%2f..%2fetc/passwd",
        "/static/%2e%2e%2fstatic.manifest.json",
        "/static/../instance/static.manifest.json",
        "/static/.%2e/pyproject.toml",
    ):
        response = get(client, url)
        body = response.get_data()
        assert response.status_code in (400, 404), url
        assert b"create_app" not in body and b"root:" not in body and b"[project]" not in body, url


def test_a_hostile_request_id_is_replaced_not_reflected(client):
    for offered in ("abc;Set-Cookie: x=1", "x" * 65, '{"level":"ERROR"}', "a b", "\u00e9t\u00e9"):
        response = get(client, "/healthz", headers={"X-Request-ID": offered.encode("utf-8").decode("latin-1")})
        assert response.headers["X-Request-ID"] != offered
        assert "Set-Cookie" not in response.headers or "x=1" not in response.headers.get("Set-Cookie", "")
    assert (
        get(client, "/healthz", headers={"X-Request-ID": "lb-1234.abc_DEF"}).headers["X-Request-ID"]
        == "lb-1234.abc_DEF"
    )


def test_healthz_says_what_failed_without_internals(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://:hunter2-secret@127.0.0.1:1/15")
    response = get(client, "/healthz")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert set(response.get_json()) <= {"status", "database", "redis", "queue_lag_seconds", "failing"}
    assert "hunter2" not in body and "127.0.0.1" not in body and "Error" not in body


def test_a_creator_cannot_open_another_creators_job_or_another_kind_of_job_under_a_route(app, client, web):
    mine = CreatorProfileFactory(user__email="mine@example.org")
    theirs = CreatorProfileFactory(user__email="theirs@example.org")
    my_offering = OfferingFactory(creator=mine)
    their_offering = OfferingFactory(creator=theirs)
    from courseplatform.jobs import enqueue

    their_list = enqueue(
        "learners.enrol_list",
        {"people": [], "report": {}, "notify": False},
        owner_id=theirs.user_id,
        offering_id=their_offering.id,
    )
    their_sessions = enqueue("sessions.import", {"rows": []}, owner_id=theirs.user_id)
    my_delete = enqueue("storage.delete", {"keys": []}, owner_id=mine.user_id, offering_id=my_offering.id)
    my_waitlist = enqueue("waitlist.notify", {"reason": "open"}, owner_id=mine.user_id, offering_id=my_offering.id)
    db.session.commit()
    db.session.info.clear()
    web.login("mine@example.org", PASSWORD)
    for url in (
        f"/studio/courses/{their_offering.id}/learners/imports/{their_list.id}",
        f"/studio/courses/{my_offering.id}/learners/imports/{their_list.id}",
        f"/studio/courses/{my_offering.id}/learners/imports/{my_delete.id}",
        f"/studio/courses/{my_offering.id}/learners/imports/{my_waitlist.id}",
        f"/studio/sessions/imports/{their_sessions.id}",
        f"/studio/sessions/imports/{my_delete.id}",
        f"/studio/courses/{my_offering.id}/learners/imports/99999999999999999999",
    ):
        assert client.get(url).status_code == 404, url


def test_the_console_and_its_actions_are_refused_to_a_creator_and_to_a_post_without_csrf(app, client, web):
    creator = CreatorProfileFactory(user__email="maya@example.org")
    web.login("maya@example.org", PASSWORD)
    for url in (
        "/admin",
        "/admin/jobs",
        "/admin/creators",
        f"/admin/creators/{creator.id}",
        "/admin/orders",
        "/admin/audit",
    ):
        assert client.get(url).status_code == 403, url
    for url in (
        f"/admin/creators/{creator.id}/suspend",
        "/admin/jobs/1/retry",
        "/admin/mail/1/retry",
        "/admin/orders/1/refund",
    ):
        assert client.post(url, data={"reason": "x"}).status_code in (400, 403), url
    admin = UserFactory(email="ops@example.org", is_admin=True)
    ops = Browserless(app.test_client())
    ops.login(admin.email, PASSWORD)
    assert ops.client.post(f"/admin/creators/{creator.id}/suspend", data={"reason": "no token"}).status_code == 400
    db.session.expire_all()
    assert creator.suspended_at is None
