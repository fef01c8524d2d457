"""The creators list and a creator's page: payout status, offerings, learners and money per currency."""

from __future__ import annotations

import re

import pytest

from courseplatform.extensions import db
from courseplatform.models import EnrollmentStatus, OfferingStatus, OrderStatus, Refund, utcnow

from ..factories import CreatorProfileFactory, EnrollmentFactory, OfferingFactory, OrderFactory


def rows(html: str) -> list[str]:
    """The creators the list shows, in order (their display names)."""
    return re.findall(r'<th scope="row">\s*<a href="/admin/creators/\d+">([^<]+)</a>', html)


def cell(html: str, label: str) -> list[str]:
    return [
        " ".join(re.sub(r"<[^>]+>", " ", c).split())
        for c in re.findall(rf'data-label="{re.escape(label)}">(.*?)</td>', html, re.S)
    ]


def test_each_creator_shows_payout_status_offerings_learners_and_money_per_currency(web, client, operator, sale):
    maya = sale.offering.creator
    maya.stripe_account_id, maya.stripe_charges_enabled = "acct_maya", True
    OfferingFactory(creator=maya, status=OfferingStatus.DRAFT)
    euro = OfferingFactory(creator=maya, currency="EUR", price_cents=3000)
    OrderFactory(offering=euro, currency="EUR", amount_cents=3000, platform_fee_cents=300, processor_fee_cents=100)
    EnrollmentFactory(offering=euro, user=sale.user)  # the same learner twice counts once
    EnrollmentFactory(offering=euro, status=EnrollmentStatus.REVOKED)  # no access: not counted
    # $20 of Pat's $49 back, with $2 of the fee.
    db.session.add(Refund(order_id=sale.order_id, amount_cents=2000, platform_fee_refunded_cents=200))
    sale.order.refunded_cents, sale.order.status = 2000, OrderStatus.PARTIALLY_REFUNDED
    CreatorProfileFactory(display_name="Quiet Newcomer")
    db.session.flush()

    html = client.get("/admin/creators").get_data(as_text=True)
    assert rows(html) == ["Quiet Newcomer", "Maya Chen"], "newest first"
    assert "Not connected" in html and "Charges enabled" in html
    assert cell(html, "Offerings (published / all)") == ["0 / 0", "2 / 3"]
    assert cell(html, "Learners") == ["0", "1"]
    assert cell(html, "Paid by learners") == ["—", "€30 $49"]
    # Net: $49 − $1.72 − $4.90 − ($20 − $2) = $24.38; €30 − €1 − €3 = €26. Never one sum across currencies.
    assert cell(html, "Net to creator") == ["—", "€26 $24.38"]
    assert cell(html, "Platform fee") == ["—", "€3 $2.90"]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("maya", ["Maya Chen"]),
        ("MAYA@EXAMPLE", ["Maya Chen"]),
        ("therapist-", ["Robin Hale"]),  # the factory's slugs
        ("hale", ["Robin Hale"]),
        ("100%_sure", []),  # % and _ are matched literally
        ("nobody", []),
    ],
)
def test_search_by_name_email_or_slug(web, client, operator, creator, query, found):
    CreatorProfileFactory(display_name="Robin Hale", user__name="Robin Hale")
    html = client.get("/admin/creators", query_string={"q": query}).get_data(as_text=True)
    assert rows(html) == found
    if not found:
        assert "No creator matches that search" in html


def test_suspended_filter(web, client, operator, creator):
    CreatorProfileFactory(display_name="Robin Hale")
    creator.suspended_at, creator.suspension_reason = utcnow(), "Fraud report"
    db.session.flush()
    assert rows(client.get("/admin/creators?status=suspended").get_data(as_text=True)) == ["Maya Chen"]
    assert rows(client.get("/admin/creators?status=active").get_data(as_text=True)) == ["Robin Hale"]
    assert len(rows(client.get("/admin/creators?status=bogus").get_data(as_text=True))) == 2


def test_the_list_is_paginated(web, client, operator):
    for n in range(27):
        CreatorProfileFactory(display_name=f"Creator {n:02d}")
    first = client.get("/admin/creators").get_data(as_text=True)
    assert len(rows(first)) == 25 and "Page 1 of 2 · 27 creators" in first
    second = client.get("/admin/creators?page=2").get_data(as_text=True)
    assert rows(second) == ["Creator 01", "Creator 00"]
    assert rows(client.get("/admin/creators?page=999").get_data(as_text=True)) == rows(second)


@pytest.mark.parametrize("hostile", ["\x00", "%00", "a" * 10_000, "' OR 1=1 --", "\u202e", "𝕞𝕒𝕪𝕒"])
def test_hostile_searches_get_an_answer_not_an_error(web, client, operator, creator, hostile):
    response = client.get("/admin/creators", query_string={"q": hostile, "page": "-1"})
    assert response.status_code in (200, 400)


def build(size: int):
    for _ in range(size):
        profile = CreatorProfileFactory()
        for currency in ("USD", "EUR"):
            offering = OfferingFactory(creator=profile, currency=currency)
            order = OrderFactory(offering=offering, currency=currency, platform_fee_cents=100)
            EnrollmentFactory(offering=offering, user=order.learner)
            db.session.add(Refund(order_id=order.id, amount_cents=100, platform_fee_refunded_cents=10))
    db.session.flush()
    return profile


def test_the_creators_pages_run_a_constant_number_of_queries(web, client, operator, count_queries):
    counts = {}
    for size in (1, 30):
        profile = build(size)
        for name, url in {"list": "/admin/creators?q=", "detail": f"/admin/creators/{profile.id}"}.items():
            with count_queries() as counter:
                assert client.get(url).status_code == 200
            counts.setdefault(name, []).append(counter.count)
    assert all(small == large for small, large in counts.values()), counts


def test_a_creators_page_shows_offerings_recent_orders_and_links(web, client, operator, sale):
    html = client.get(f"/admin/creators/{sale.offering.creator_id}").get_data(as_text=True)
    assert "Grounding Skills" in html
    assert f'href="/admin/orders/{sale.order_id}"' in html
    assert f'href="/admin/orders?creator={sale.offering.creator_id}"' in html
    assert f'href="/admin/accounts/{sale.offering.creator.user_id}"' in html
    assert "Suspend Maya Chen" in html
    assert client.get("/admin/creators/987654321").status_code == 404
    assert client.get(f"/admin/creators/{2**40}").status_code == 404


def test_another_creators_page_shows_none_of_their_orders(web, client, operator, sale):
    other = CreatorProfileFactory(display_name="Robin Hale")
    html = client.get(f"/admin/creators/{other.id}").get_data(as_text=True)
    assert "pat@example.org" not in html and "No orders yet." in html
