"""Net revenue: the figure a creator reads is the same on every screen and in every export.

One offering at $49, sold five times through Stripe Checkout. Stripe keeps 2.9 % + 30 cents
($1.72) and the platform 10 % ($4.90), so each sale nets the creator $42.38: $211.90 in all.
- one is refunded $20 from the studio; $2 of the platform fee comes back with it: −$18;
- one is refunded in full in Stripe's dashboard; all $4.90 of the fee comes back: −$44.10;
- one is disputed (still open): nothing has gone back yet, so its sale still counts.
Net to the creator: 211.90 − 18 − 44.10 = $149.80. Stripe keeps its fee on a refund.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from ..checkout.conftest import connected_offering, fake_stripe_server, stripe_api, webhooks  # noqa: F401
from ..checkout.test_webhooks import fresh, paid_order
from ..factories import PASSWORD

NET_CENTS = 14980


def cents(shown: str) -> int:
    """What a reader takes `$1,234.50`, `-$5` or `−$5` to mean, in cents."""
    text = " ".join(re.sub(r"<[^>]+>", " ", shown).split())
    match = re.fullmatch(r"([-−]?)\$([\d,]+)(?:\.(\d\d))?", text)
    assert match, f"{text!r} is not an amount of money"
    sign, whole, minor = match.groups()
    value = int(whole.replace(",", "")) * 100 + int(minor or 0)
    return -value if sign else value


def shown(html: str, pattern: str) -> list[int]:
    """Every amount the page shows where `pattern` (a regex with one group around the amount) matches."""
    found = re.findall(pattern, html, re.S)
    assert found, f"nothing on the page matches {pattern!r}"
    return [cents(amount) for amount in found]


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_every_screen_and_export_shows_the_same_net(web, client, webhooks, connected_offering):  # noqa: F811
    offering = connected_offering
    partly, fully, disputed, *_ = [paid_order(web, webhooks, offering) for _ in range(5)]
    creator = offering.creator.user
    web.login(creator.email, PASSWORD)
    refund_url = f"/studio/courses/{offering.id}/orders/{partly.id}/refund"
    web.submit(refund_url, {"amount": "20", "reason": "Missed a week", "refunded_before": "0"})
    webhooks.send("charge.refunded", webhooks.fake.refund_outside_app(fully.payment_intent_id))
    webhooks.send("charge.dispute.created", webhooks.fake.open_dispute(disputed.charge_id))
    assert [r.platform_fee_refunded_cents for r in fresh(partly).refunds] == [200]
    assert [r.platform_fee_refunded_cents for r in fresh(fully).refunds] == [490]

    dashboard = page(client, "/studio")
    overview = page(client, f"/studio/courses/{offering.id}")
    payouts = page(client, "/studio/payouts")
    revenue = page(client, "/studio/revenue")
    export = list(csv.DictReader(io.StringIO(page(client, "/studio/revenue.csv"))))

    (ledger_totals,) = re.findall(r'<dl class="earnings-totals".*?</dl>', payouts, re.S)
    gross, refunds, processor, platform, ledger_net = shown(ledger_totals, r"<dd>(.*?)</dd>")
    figures = {
        "studio dashboard": shown(dashboard, r'data-label="Revenue \(net\)">(.*?)</td>'),
        "offering overview": shown(overview, r"<dt>Revenue \(net\)</dt><dd>(.*?)</dd>"),
        "payouts total": [ledger_net],
        "payouts totals added up": [gross + refunds + processor + platform],
        "payouts rows added up": [sum(shown(payouts, r'class="num earnings-row-net" data-label="Net">(.*?)</td>'))],
        "revenue headline": shown(revenue, r'data-figure="passive">(.*?)</dd>'),
        "revenue last four weeks": shown(revenue, r'data-figure="last-four-weeks">(.*?)</dd>'),
        "revenue months total": shown(revenue, r'<th scope="row">Total</th>.*?data-label="Passive income">(.*?)</td>'),
        "revenue offering net": shown(revenue, r'data-label="Net">(.*?)</td>'),
        "revenue csv": [sum(int(Decimal(row["passive_income"]) * 100) for row in export)],
    }
    assert figures == {screen: [NET_CENTS] for screen in figures}
    assert (gross, refunds, processor, platform) == (24500, -6900, -860, -1760)
