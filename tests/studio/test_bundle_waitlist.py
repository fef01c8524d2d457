"""Waitlist only is refused for an offering a published bundle sells; a bundle's Details say why a price is refused."""

from __future__ import annotations

from courseplatform.bundles import bundle_problems
from courseplatform.extensions import db

from ..studio.test_bundle_rules import details, published_bundle
from ..studio.test_bundles import creator  # noqa: F401  (fixture)


def test_waitlist_only_on_an_offering_in_a_published_bundle_is_refused_like_archiving(web, creator):  # noqa: F811
    bundle, grounding, _ = published_bundle(web, creator)

    web.submit(
        f"/studio/courses/{grounding.id}/edit",
        details(grounding, kind=grounding.kind.value, price_kind="fixed", waitlist_only="y"),
        form_url=f"/studio/courses/{grounding.id}/edit",
    )

    db.session.expire_all()
    assert bundle_problems(bundle) == [], "the published bundle stopped selling without the creator being told"


def test_a_published_bundle_with_a_waitlisted_offering_can_still_be_renamed(web, creator):  # noqa: F811
    bundle, grounding, _ = published_bundle(web, creator)
    grounding.waitlist_only = True
    db.session.flush()

    web.submit(
        f"/studio/courses/{bundle.id}/edit",
        details(bundle, title="The starter kit, renamed"),
        form_url=f"/studio/courses/{bundle.id}/edit",
    )

    db.session.expire_all()
    assert bundle.title == "The starter kit, renamed"


def test_the_reason_a_published_bundles_price_is_refused_is_shown(web, creator):  # noqa: F811
    bundle, _, _ = published_bundle(web, creator)

    answer = web.submit(
        f"/studio/courses/{bundle.id}/edit",
        details(bundle, price_kind="sliding", price_cents="99", sliding_scale_min_cents="1"),
        form_url=f"/studio/courses/{bundle.id}/edit",
    )

    # The refusal is written beside the price choice it is about.
    assert "A published bundle keeps a fixed price" in answer.get_data(as_text=True)


def test_opening_a_bundle_that_cant_be_sold_tells_no_one_on_its_waitlist(web, creator):  # noqa: F811
    from courseplatform.enrollments.waitlist import announce_opening
    from courseplatform.models import OfferingStatus, WaitlistEntry

    bundle, grounding, _ = published_bundle(web, creator)
    db.session.add(WaitlistEntry(offering_id=bundle.id, email="waiting@example.org"))
    grounding.status = OfferingStatus.ARCHIVED  # something it holds can't be sold any more
    db.session.flush()
    db.session.expire(bundle, ["bundle_offerings"])

    assert bundle_problems(bundle)
    assert announce_opening(bundle) == 0
