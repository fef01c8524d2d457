"""A bundle in the studio: no live workshops in it, a sellable price, no roster of its own, copies, contents."""

from __future__ import annotations

import sqlalchemy as sa

from courseplatform.bundles import bundle_problems
from courseplatform.extensions import db
from courseplatform.models import Enrollment, OfferingKind, OfferingStatus

from ..factories import UserFactory
from ..helpers import csrf_token_from
from ..markup import text_of
from .test_bundles import BUNDLE, creator, new_bundle, published, save_contents  # noqa: F401  (fixture)


def published_bundle(web, creator):  # noqa: F811
    first = published(creator, "Grounding", price_cents=6000)
    second = published(creator, "Sleep", price_cents=7000)
    bundle = new_bundle(web)
    save_contents(web, bundle, [first.id, second.id])
    web.submit(f"/studio/courses/{bundle.id}/publish", {}, form_url=f"/studio/courses/{bundle.id}")
    db.session.expire_all()
    assert bundle.status is OfferingStatus.PUBLISHED
    return bundle, first, second


def details(offering, **changes):
    return {
        **BUNDLE,
        "kind": offering.kind.value,
        "title": offering.title,
        "slug": offering.slug,
        "description": offering.description,
        "price_cents": str(offering.price_cents / 100),
        **changes,
    }


def test_an_offering_in_a_bundle_cant_become_a_live_workshop(web, creator):  # noqa: F811
    bundle, grounding, _ = published_bundle(web, creator)

    web.submit(
        f"/studio/courses/{grounding.id}/edit",
        details(grounding, kind="live_workshop"),
        form_url=f"/studio/courses/{grounding.id}/edit",
    )

    db.session.expire_all()
    held_kinds = {o.title: o.kind for o in bundle.bundle_offerings}
    assert OfferingKind.LIVE_WORKSHOP not in held_kinds.values(), f"the published bundle now holds {held_kinds}"


def test_a_published_bundle_cant_be_edited_into_pay_what_you_can(web, creator):  # noqa: F811
    bundle, _, _ = published_bundle(web, creator)

    web.submit(
        f"/studio/courses/{bundle.id}/edit",
        details(bundle, price_kind="sliding", price_cents="99", sliding_scale_min_cents="1"),
        form_url=f"/studio/courses/{bundle.id}/edit",
    )

    db.session.expire_all()
    assert not (bundle.status is OfferingStatus.PUBLISHED and bundle_problems(bundle)), (
        f"published with sliding scale {bundle.sliding_scale_min_cents}-{bundle.price_cents}: {bundle_problems(bundle)}"
    )


def test_a_bundle_has_no_roster_to_grant_or_import_into(web, creator):  # noqa: F811
    bundle, _, _ = published_bundle(web, creator)
    learner = UserFactory(email="guest@example.org")
    token = csrf_token_from(web.client.get(f"/studio/courses/{bundle.id}").get_data(as_text=True))

    page = web.client.get(f"/studio/courses/{bundle.id}/learners")
    grant = web.client.post(
        f"/studio/courses/{bundle.id}/learners/grant",
        data={"csrf_token": token, "email": learner.email, "name": ""},
    )

    assert (page.status_code, grant.status_code) == (404, 404)
    db.session.expire_all()
    assert db.session.scalars(sa.select(Enrollment).filter_by(user_id=learner.id)).all() == []


def test_duplicating_a_bundle_copies_what_it_holds(web, creator):  # noqa: F811
    bundle, _, _ = published_bundle(web, creator)

    answer = web.submit(f"/studio/courses/{bundle.id}/duplicate", {}, form_url=f"/studio/courses/{bundle.id}")

    db.session.expire_all()
    copy = db.session.scalar(sa.select(type(bundle)).filter_by(title="Copy of The starter kit"))
    assert copy is not None and copy.kind is OfferingKind.BUNDLE
    assert [o.title for o in copy.bundle_offerings] == ["Grounding", "Sleep"], text_of(answer.get_data(as_text=True))


def test_the_contents_page_shows_an_archived_offering_the_bundle_still_sells(web, creator):  # noqa: F811
    bundle, _, sleep = published_bundle(web, creator)
    web.submit(f"/studio/courses/{sleep.id}/archive", {}, form_url=f"/studio/courses/{sleep.id}")

    contents = text_of(web.client.get(f"/studio/courses/{bundle.id}/contents").get_data(as_text=True))

    db.session.expire_all()
    assert "Sleep" in [o.title for o in bundle.bundle_offerings]  # still sold with the bundle...
    assert "Sleep" in contents, "...but the Contents page doesn't show it, so the creator can't see or untick it"
