"""Making a bundle in the studio: what it may hold, and what it needs before it can be published."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Offering, OfferingKind, OfferingStatus

from ..factories import PASSWORD, CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory
from ..helpers import csrf_token_from
from ..markup import text_of

BUNDLE = {
    "kind": "bundle",
    "title": "The starter kit",
    "subtitle": "Everything to begin",
    "slug": "",
    "description": "Two courses together.",
    "price_kind": "fixed",
    "price_cents": "99",
    "sliding_scale_min_cents": "",
    "topics": "",
    "ce_minutes": "",
    "ce_approval_statement": "",
    "authoring_minutes": "",
}


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org")
    web.login("maya@example.org", PASSWORD)
    return profile


def published(creator, title, **kwargs):
    offering = OfferingFactory(creator=creator, title=title, **kwargs)
    LessonFactory(section=SectionFactory(offering=offering))
    return offering


def new_bundle(web) -> Offering:
    answer = web.submit("/studio/courses/new", BUNDLE, form_url="/studio/courses/new")
    assert "Next, choose the offerings it holds." in text_of(answer.get_data(as_text=True))
    return db.session.scalar(sa.select(Offering).filter_by(title="The starter kit"))


def save_contents(web, bundle, ids):
    page = web.client.get(f"/studio/courses/{bundle.id}/contents").get_data(as_text=True)
    return web.client.post(
        f"/studio/courses/{bundle.id}/contents",
        data={"csrf_token": csrf_token_from(page), "offering_ids": [str(i) for i in ids]},
    )


def test_a_bundle_holds_the_ticked_offerings_and_publishes_once_they_are_two_and_published(web, creator):
    first = published(creator, "Grounding", price_cents=6000)
    second = published(creator, "Sleep", price_cents=7000, status=OfferingStatus.DRAFT)
    bundle = new_bundle(web)

    overview = text_of(web.client.get(f"/studio/courses/{bundle.id}").get_data(as_text=True))
    save_contents(web, bundle, [first.id, second.id])
    refused = text_of(web.client.get(f"/studio/courses/{bundle.id}").get_data(as_text=True))
    second.status = OfferingStatus.PUBLISHED
    db.session.flush()
    contents = text_of(web.client.get(f"/studio/courses/{bundle.id}/contents").get_data(as_text=True))
    web.submit(f"/studio/courses/{bundle.id}/publish", {}, form_url=f"/studio/courses/{bundle.id}")

    assert bundle.kind is OfferingKind.BUNDLE
    assert "Choose at least 2 offerings for the bundle (Contents)." in overview
    assert "Add at least one lesson" not in overview
    assert "Sleep can't be sold in a bundle now: publish it" in refused
    assert "costs $130; the bundle's price is $99" in contents
    db.session.expire_all()
    assert [o.title for o in bundle.bundle_offerings] == ["Grounding", "Sleep"]
    assert bundle.status is OfferingStatus.PUBLISHED


@pytest.mark.parametrize("what", ["another creator's", "a live workshop", "a bundle", "another currency", "itself"])
def test_a_bundle_refuses_what_it_cant_hold(web, creator, what):
    bundle = new_bundle(web)
    mine = published(creator, "Grounding")
    other = {
        "another creator's": lambda: published(CreatorProfileFactory(), "Theirs"),
        "a live workshop": lambda: published(creator, "Live", kind=OfferingKind.LIVE_WORKSHOP),
        "a bundle": lambda: published(creator, "Other kit", kind=OfferingKind.BUNDLE),
        "another currency": lambda: published(creator, "Euros", currency="EUR"),
        "itself": lambda: bundle,
    }[what]()

    answer = save_contents(web, bundle, [mine.id, other.id])

    assert answer.status_code == 400
    db.session.expire_all()
    assert bundle.bundle_offerings == []


@pytest.mark.parametrize("value", ["abc", "1e9", str(2**70), "\x00", "-1"])
def test_hostile_ids_change_nothing(web, creator, value):
    bundle = new_bundle(web)
    page = web.client.get(f"/studio/courses/{bundle.id}/contents").get_data(as_text=True)

    answer = web.client.post(
        f"/studio/courses/{bundle.id}/contents", data={"csrf_token": csrf_token_from(page), "offering_ids": [value]}
    )

    assert answer.status_code == 400
    db.session.expire_all()
    assert bundle.bundle_offerings == []


def test_a_course_cant_become_a_bundle_nor_a_bundle_a_course(web, creator):
    course = published(creator, "Grounding")
    bundle = new_bundle(web)

    to_bundle = web.submit(
        f"/studio/courses/{course.id}/edit",
        {**BUNDLE, "title": "Grounding"},
        form_url=f"/studio/courses/{course.id}/edit",
    )
    to_course = web.submit(
        f"/studio/courses/{bundle.id}/edit",
        {**BUNDLE, "kind": "course"},
        form_url=f"/studio/courses/{bundle.id}/edit",
    )

    for answer in (to_bundle, to_course):
        refused = "A bundle or a membership can't become another kind of offering"
        assert refused in text_of(answer.get_data(as_text=True))
    db.session.expire_all()
    assert (course.kind, bundle.kind) == (OfferingKind.COURSE, OfferingKind.BUNDLE)


def test_contents_are_only_for_bundles(web, creator):
    course = published(creator, "Grounding")

    assert web.client.get(f"/studio/courses/{course.id}/contents").status_code == 404


def test_a_published_bundle_cant_be_emptied_below_what_publishing_asks(web, creator):
    first = published(creator, "Grounding", price_cents=6000)
    second = published(creator, "Sleep", price_cents=7000)
    bundle = new_bundle(web)
    save_contents(web, bundle, [first.id, second.id])
    web.submit(f"/studio/courses/{bundle.id}/publish", {}, form_url=f"/studio/courses/{bundle.id}")

    answer = save_contents(web, bundle, [first.id])

    assert answer.status_code == 400
    assert "A published bundle holds at least 2 published offerings" in text_of(answer.get_data(as_text=True))
    db.session.expire_all()
    assert [o.title for o in bundle.bundle_offerings] == ["Grounding", "Sleep"]
