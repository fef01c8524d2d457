"""Only operators reach the console: anyone else is sent to log in or refused, and nothing changes."""

from __future__ import annotations

import pytest

from courseplatform.extensions import db
from courseplatform.models import AuditEntry

from ..factories import PASSWORD, CreatorProfileFactory, UserFactory
from ..helpers import csrf_token_from


def admin_urls(app, method: str, ids: dict) -> list[str]:
    adapter = app.url_map.bind("localhost")
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.") and method in rule.methods:
            urls.append(adapter.build(rule.endpoint, {name: ids[name] for name in rule.arguments}))
    return sorted(urls)


@pytest.fixture
def ids(sale):
    return {
        "creator_id": sale.offering.creator_id,
        "user_id": sale.user_id,
        "order_id": sale.order_id,
        "job_id": 1,
        "mail_id": 1,
    }


def test_the_console_has_every_page_the_operator_needs(app, ids):
    assert admin_urls(app, "GET", ids) == sorted(
        [
            "/admin",
            "/admin/audit",
            "/admin/creators",
            f"/admin/creators/{ids['creator_id']}",
            "/admin/jobs",
            "/admin/orders",
            f"/admin/orders/{ids['order_id']}",
            f"/admin/accounts/{ids['user_id']}",
        ]
    )


def test_a_visitor_is_sent_to_log_in(app, client, ids):
    for url in admin_urls(app, "GET", ids):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location, url


@pytest.mark.parametrize("who", ["learner", "creator"])
def test_a_learner_or_a_creator_is_refused_every_page_and_action(app, web, client, ids, who):
    if who == "learner":
        user = UserFactory(email="someone@example.org")
    else:
        user = CreatorProfileFactory(user__email="someone@example.org").user
    web.login(user.email, PASSWORD)
    for url in admin_urls(app, "GET", ids):
        assert client.get(url).status_code == 403, url
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    for url in admin_urls(app, "POST", ids):
        response = client.post(url, data={"csrf_token": token, "reason": "Because", "amount": "49", "confirmed": "yes"})
        assert response.status_code == 403, url
    assert db.session.query(AuditEntry).count() == 0


def test_the_admin_link_in_the_header_is_for_operators_only(web, client, operator):
    html = client.get("/admin").get_data(as_text=True)
    assert 'href="/admin"' in html
    for label in ("Overview", "Creators", "Orders", "Audit log"):
        assert f">{label}</a>" in html
