"""Finding an order: by the buyer's e-mail, the order number, or any of Stripe's ids; paginated."""

from __future__ import annotations

import re

import pytest

from courseplatform.extensions import db
from courseplatform.models import OrderStatus

from ..factories import OfferingFactory, OrderFactory, UserFactory


def found(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<a href="/admin/orders/(\d+)">#', html)]


@pytest.fixture
def other_order(offering):
    return OrderFactory(
        offering=offering,
        learner=UserFactory(email="sam@example.org"),
        status=OrderStatus.PENDING,
        checkout_id="cs_test_sam",
        paid_at=None,
    )


@pytest.mark.parametrize(
    "query",
    ["pat@example.org", "PAT@example", "cs_test_pat", "pi_test_pat", "ch_test_pat", "{id}", "#{id}", "  {id} "],
)
def test_an_order_is_found_by_email_number_or_stripe_id(web, client, operator, sale, other_order, query):
    html = client.get("/admin/orders", query_string={"q": query.format(id=sale.order_id)}).get_data(as_text=True)
    assert found(html) == [sale.order_id]


def test_without_a_search_every_order_shows_newest_first_with_status_and_amounts(
    web, client, operator, sale, other_order
):
    html = client.get("/admin/orders").get_data(as_text=True)
    assert found(html) == [other_order.id, sale.order_id]
    assert "Pending" in html and "Paid" in html and "$49" in html


def test_filter_by_status_and_by_creator(web, client, operator, sale, other_order):
    assert found(client.get("/admin/orders?status=pending").get_data(as_text=True)) == [other_order.id]
    someone_else = OrderFactory(offering=OfferingFactory())
    html = client.get(f"/admin/orders?creator={sale.offering.creator_id}").get_data(as_text=True)
    assert someone_else.id not in found(html) and sale.order_id in found(html)
    assert "Orders for Maya Chen" in html


@pytest.mark.parametrize(
    "hostile", ["\x00", "%", "_", "a" * 5000, str(2**63), "-1", "1e9", "NaN", "' OR ''='", "pi_%", "\u00e9\u0301"]
)
def test_hostile_searches_find_nothing_they_should_not_and_never_fail(web, client, operator, sale, hostile):
    response = client.get(
        "/admin/orders", query_string={"q": hostile, "status": hostile, "creator": hostile, "page": hostile}
    )
    if "\x00" in hostile:
        assert response.status_code == 400
        return
    assert response.status_code == 200
    assert found(response.get_data(as_text=True)) == []


def test_orders_are_paginated(web, client, operator, offering):
    for _ in range(31):
        OrderFactory(offering=offering)
    first = client.get("/admin/orders").get_data(as_text=True)
    assert len(found(first)) == 30 and "Page 1 of 2 · 31 orders" in first
    assert len(found(client.get("/admin/orders?page=2").get_data(as_text=True))) == 1
    assert 'href="/admin/orders?page=2"' in first


def test_an_order_page_shows_amounts_ids_and_refunds(web, client, operator, sale):
    html = client.get(f"/admin/orders/{sale.order_id}").get_data(as_text=True)
    for text in ("Pat Buyer", "pat@example.org", "cs_test_pat", "pi_test_pat", "ch_test_pat", "$49", "$4.90", "$1.72"):
        assert text in html
    assert "Review the refund" in html
    assert client.get("/admin/orders/987654321").status_code == 404


def test_the_orders_pages_run_a_constant_number_of_queries(web, client, operator, offering, count_queries):
    counts = {}
    for size in (1, 30):
        for _ in range(size):
            OrderFactory(offering=OfferingFactory())
        order = OrderFactory(offering=offering)
        db.session.flush()
        for name, url in {
            "list": "/admin/orders",
            "search": "/admin/orders?q=example.org",
            "order": f"/admin/orders/{order.id}",
            "account": f"/admin/accounts/{order.learner_id}",
            "audit": "/admin/audit",
            "index": "/admin",
        }.items():
            with count_queries() as counter:
                assert client.get(url).status_code == 200
            counts.setdefault(name, []).append(counter.count)
    assert all(small == large for small, large in counts.values()), counts
