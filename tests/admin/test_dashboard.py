"""The console's overview: counts, the configured platform fee, and the fee earned per currency after refunds."""

from __future__ import annotations

import re

from courseplatform.extensions import db
from courseplatform.models import OrderStatus, Refund, RefundStatus

from ..factories import OfferingFactory, OrderFactory


def fee_cells(html: str) -> dict[str, str]:
    found = re.findall(r'<th scope="row">([A-Z]{3})</th>.*?data-label="Platform fee earned">(.*?)</td>', html, re.S)
    return dict(found)


def test_the_fee_earned_is_net_of_fees_returned_with_refunds_and_never_mixes_currencies(web, client, operator, app):
    usd = OfferingFactory(price_cents=10000)
    eur = OfferingFactory(price_cents=5000, currency="EUR")
    kept = OrderFactory(offering=usd, amount_cents=10000, platform_fee_cents=1000)
    partly = OrderFactory(
        offering=usd, amount_cents=10000, platform_fee_cents=1000, status=OrderStatus.PARTIALLY_REFUNDED
    )
    fully = OrderFactory(offering=usd, amount_cents=10000, platform_fee_cents=1000, status=OrderStatus.REFUNDED)
    disputed = OrderFactory(offering=usd, amount_cents=10000, platform_fee_cents=1000, status=OrderStatus.DISPUTED)
    OrderFactory(offering=usd, amount_cents=10000, platform_fee_cents=1000, status=OrderStatus.PENDING, paid_at=None)
    OrderFactory(offering=eur, currency="EUR", amount_cents=5000, platform_fee_cents=500)
    db.session.add_all(
        [
            Refund(order_id=partly.id, amount_cents=4000, platform_fee_refunded_cents=400),
            Refund(order_id=fully.id, amount_cents=10000, platform_fee_refunded_cents=1000),
            # Still with Stripe: nothing has gone back yet, so the fee is still earned.
            Refund(order_id=disputed.id, amount_cents=500, platform_fee_refunded_cents=50, status=RefundStatus.PENDING),
        ]
    )
    db.session.flush()
    assert kept.id

    html = client.get("/admin").get_data(as_text=True)
    assert f"<strong>{app.config['PLATFORM_FEE_PERCENT']}%</strong>" in html
    # $10 + ($10 − $4 returned) + ($10 − $10) + $10 (disputed: nothing back yet) = $26; pending earns nothing.
    assert fee_cells(html) == {"USD": "$26", "EUR": "€5"}
    assert 'data-label="Fee returned with refunds">$14</td>' in html


def test_the_overview_counts_listed_offerings_and_links_to_every_page(web, client, operator, offering):
    html = client.get("/admin").get_data(as_text=True)
    assert re.search(r"<dt>Offerings in the catalog</dt><dd>1</dd>", html)
    for href in ("/admin/creators", "/admin/orders", "/admin/audit"):
        assert f'href="{href}"' in html
    assert "No paid orders yet." in html
