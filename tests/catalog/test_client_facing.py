"""Offerings for the public: crisis resources first on the page and in every lesson, education-not-therapy, the
creator's licence, content notes before lessons, and no CE credit, through the studio's forms and the pages."""

from __future__ import annotations

import pytest

from courseplatform.extensions import db
from courseplatform.models import Audience, EnrollmentStatus, LessonKind, OfferingStatus

from ..factories import (
    PASSWORD,
    CreatorProfileFactory,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    SectionFactory,
    UserFactory,
)
from ..markup import text_of

DETAILS = {
    "kind": "course",
    "title": "While You Wait: Managing Anxiety",
    "subtitle": "Skills for the weeks before therapy starts",
    "slug": "",
    "description": "Short lessons on **breathing**, sleep and worry.",
    "price_kind": "free",
    "price_cents": "",
    "sliding_scale_min_cents": "",
    "topics": "Anxiety",
    "ce_minutes": "",
    "ce_approval_statement": "",
    "authoring_minutes": "",
    "audience": "public",
    "not_therapy_statement": "",
    "crisis_resources": "",
    "testimonials_unsolicited": "y",
}


@pytest.fixture
def therapist(web):
    profile = CreatorProfileFactory(
        user__email="maya@example.org",
        display_name="Dr. Maya Okafor",
        credentials="LCSW",
        licence="Licensed Clinical Social Worker, New York #012345",
        country="US",
    )
    web.login("maya@example.org", PASSWORD)
    return profile


def public_offering(creator, **fields):
    offering = OfferingFactory(
        creator=creator,
        audience=Audience.PUBLIC,
        price_cents=0,
        status=OfferingStatus.PUBLISHED,
        title="While You Wait",
        **fields,
    )
    section = SectionFactory(offering=offering)
    lessons = [
        LessonFactory(section=section, title="Breathing", kind=LessonKind.TEXT, body="Breathe out slowly."),
        LessonFactory(
            section=section,
            title="When worry turns dark",
            kind=LessonKind.TEXT,
            body="Thoughts of not wanting to be here.",
            content_note="Discusses suicide and self-harm.",
        ),
    ]
    db.session.flush()
    return offering, lessons


def test_the_page_and_every_lesson_show_the_crisis_line_first(web, client, therapist):
    offering, lessons = public_offering(therapist)
    web.logout()

    page = client.get(f"/courses/{offering.slug}").get_data(as_text=True)
    words = text_of(page)
    assert "If you are in crisis or thinking about suicide: Call or text 988" in words
    # First: before the title and anything to buy.
    assert page.index("crisis-notice") < page.index("<h1>")
    assert "This is education, not therapy. Taking it doesn't make you a client of Dr. Maya Okafor" in words
    assert "Licensed Clinical Social Worker, New York #012345" in words

    learner = UserFactory(email="sam@example.org")
    EnrollmentFactory(user=learner, offering=offering, status=EnrollmentStatus.ACTIVE)
    web.login("sam@example.org", PASSWORD)
    for lesson in lessons:
        lesson_page = client.get(f"/learn/{offering.slug}/lessons/{lesson.id}").get_data(as_text=True)
        assert lesson_page.count("Call or text 988") == 1, lesson.title
        assert lesson_page.index("crisis-notice") < lesson_page.index("prose")
    outline = client.get(f"/learn/{offering.slug}").get_data(as_text=True)
    assert outline.count("Call or text 988") == 1 and "education, not therapy" in outline
    second = client.get(f"/learn/{offering.slug}/lessons/{lessons[1].id}").get_data(as_text=True)
    assert "Content note: Discusses suicide and self-harm." in text_of(second)
    assert second.index("content-note") < second.index("Thoughts of not wanting")


@pytest.mark.parametrize(
    "country,line",
    [
        ("GB", "Call Samaritans free on 116 123"),
        ("AU", "Call Lifeline on 13 11 14"),
        ("CA", "Call or text 9-8-8"),
        (None, "findahelpline.com"),
    ],
)
def test_the_crisis_line_is_the_creators_countrys(client, country, line):
    creator = CreatorProfileFactory(country=country)
    offering, _ = public_offering(creator)

    assert line in text_of(client.get(f"/courses/{offering.slug}").get_data(as_text=True))


def test_the_creators_own_words_replace_the_defaults(client):
    creator = CreatorProfileFactory(country="US")
    offering, _ = public_offering(
        creator,
        crisis_resources="Call the Trevor Project on 1-866-488-7386, or text START to 678-678.",
        not_therapy_statement="A self-help course. It is not a substitute for care.",
    )

    words = text_of(client.get(f"/courses/{offering.slug}").get_data(as_text=True))

    assert "Trevor Project" in words and "988" not in words
    assert "A self-help course. It is not a substitute for care." in words
    assert "education, not therapy" not in words


def test_an_offering_for_clinicians_shows_none_of_it(client):
    creator = CreatorProfileFactory(country="US", licence="LCSW, NY #1")
    offering = OfferingFactory(creator=creator, status=OfferingStatus.PUBLISHED)

    page = client.get(f"/courses/{offering.slug}").get_data(as_text=True)

    assert "crisis-notice" not in page and "988" not in page and "NY #1" not in page


def test_an_offering_for_the_public_cant_carry_ce_credit(web, therapist):
    answer = web.submit("/studio/courses/new", {**DETAILS, "ce_minutes": "1.5", "ce_approval_statement": "Approved."})
    assert text_of(answer.get_data(as_text=True)).count("can't carry continuing-education credit") == 2
    assert therapist.offerings == []

    # One made for clinicians with CE, then switched to the public: the switch is refused, and so is publishing.
    offering = OfferingFactory(
        creator=therapist, status=OfferingStatus.DRAFT, ce_minutes=90, ce_approval_statement="Approved."
    )
    LessonFactory(section=SectionFactory(offering=offering))
    db.session.flush()
    answer = web.submit(
        f"/studio/courses/{offering.id}/edit", {**DETAILS, "ce_minutes": "1.5", "ce_approval_statement": "Approved."}
    )
    assert "can't carry continuing-education credit" in text_of(answer.get_data(as_text=True))
    db.session.refresh(offering)
    assert offering.audience is Audience.CLINICIANS
    offering.audience = Audience.PUBLIC  # as a row changed behind the form's back
    db.session.flush()

    html = web.submit(f"/studio/courses/{offering.id}/publish", {}, form_url=f"/studio/courses/{offering.id}")

    assert "An offering for the public can't carry continuing-education credit" in text_of(html.get_data(as_text=True))
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.DRAFT

    web.submit(f"/studio/courses/{offering.id}/edit", {**DETAILS})
    html = web.submit(f"/studio/courses/{offering.id}/publish", {}, form_url=f"/studio/courses/{offering.id}")
    assert "Published" in html.get_data(as_text=True)


def test_the_details_form_shows_the_defaults_the_page_will_use(web, therapist):
    page = text_of(web.client.get("/studio/courses/new").get_data(as_text=True))

    assert "The public: psychoeducation (education, not therapy)" in page
    html = web.client.get("/studio/courses/new").get_data(as_text=True)
    assert 'placeholder="Call or text 988' in html


@pytest.mark.parametrize(
    "change,message",
    [
        ({"audience": "everyone"}, "Not a valid choice"),
        ({"crisis_resources": "x" * 2001}, "2000"),
    ],
)
def test_hostile_audience_fields_are_refused(web, therapist, change, message):
    answer = web.submit("/studio/courses/new", {**DETAILS, **change})

    assert message in answer.get_data(as_text=True)
    assert therapist.offerings == []


def test_the_creator_profile_keeps_the_licence_and_country(web, therapist):
    form = web.client.get("/become-a-creator").get_data(as_text=True)
    assert 'name="licence"' in form and 'name="country"' in form
    data = {
        "display_name": "Dr. Maya Okafor",
        "credentials": "LCSW",
        "licence": "LCSW, New York #054321",
        "country": "GB",
        "bio": "",
        "slug": therapist.slug,
        "currency": therapist.currency,
        "time_zone": "Europe/London",
        "default_session_fee_cents": "150",
        "default_session_minutes": "50",
    }

    web.submit("/become-a-creator", data)
    db.session.refresh(therapist)
    assert (therapist.licence, therapist.country) == ("LCSW, New York #054321", "GB")

    web.submit("/become-a-creator", {**data, "country": "ZZ"})
    db.session.refresh(therapist)
    assert therapist.country == "GB"


def test_a_copy_keeps_its_audience_its_words_and_its_content_notes(web, therapist):
    offering, _ = public_offering(therapist, crisis_resources="Call 988.", not_therapy_statement="Not therapy.")

    web.submit(f"/studio/courses/{offering.id}/duplicate", {}, form_url=f"/studio/courses/{offering.id}")

    copy = next(o for o in therapist.offerings if o.id != offering.id)
    assert (copy.audience, copy.crisis_resources, copy.not_therapy_statement) == (
        Audience.PUBLIC,
        "Call 988.",
        "Not therapy.",
    )
    notes = [lesson.content_note for section in copy.sections for lesson in section.lessons]
    assert notes == ["", "Discusses suicide and self-harm."]


def test_a_visitor_reading_a_free_preview_sees_the_crisis_line_and_the_content_note(client):
    creator = CreatorProfileFactory(country="US")
    offering, lessons = public_offering(creator)
    lessons[1].is_preview = True
    db.session.flush()

    page = client.get(f"/courses/{offering.slug}/preview/{lessons[1].id}")

    assert page.status_code == 200
    words = text_of(page.get_data(as_text=True))
    assert "Call or text 988" in words and "education, not therapy" in words
    assert "Content note: Discusses suicide and self-harm." in words


@pytest.mark.parametrize("audience", [Audience.CLINICIANS, Audience.PUBLIC])
def test_a_published_offering_for_the_public_never_gains_ce_credit_on_details(web, therapist, audience):
    """Published already (so publishing's own check never runs again): switching one with CE to the public, or
    adding CE to one for the public, is refused when the Details are saved."""
    offering, _ = public_offering(therapist)
    offering.audience = audience
    if audience is Audience.CLINICIANS:
        offering.ce_minutes, offering.ce_approval_statement = 90, "Approved."
    db.session.flush()

    web.submit(
        f"/studio/courses/{offering.id}/edit",
        {**DETAILS, "slug": offering.slug, "ce_minutes": "1.5", "ce_approval_statement": "Approved."},
    )
    db.session.refresh(offering)

    assert not (offering.audience is Audience.PUBLIC and offering.ce_minutes)


def test_an_offering_for_the_public_is_published_only_once_its_testimonials_are_confirmed(web, therapist):
    """No testimonials solicited from clients (APA 5.05, ACA C.3.b): the creator confirms it on Details, and
    publishing waits for it; an offering for clinicians doesn't ask."""
    web.submit("/studio/courses/new", {**DETAILS, "testimonials_unsolicited": ""})
    [offering] = therapist.offerings
    LessonFactory(section=SectionFactory(offering=offering))
    db.session.flush()
    publish = f"/studio/courses/{offering.id}/publish"

    html = text_of(web.submit(publish, {}, form_url=f"/studio/courses/{offering.id}").get_data(as_text=True))
    assert "quotes no testimonial you asked a current or former client for" in html
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.DRAFT

    web.submit(f"/studio/courses/{offering.id}/edit", {**DETAILS, "testimonials_unsolicited": "y"})
    db.session.refresh(offering)
    assert offering.testimonials_unsolicited is True
    html = web.submit(publish, {}, form_url=f"/studio/courses/{offering.id}").get_data(as_text=True)
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.PUBLISHED, text_of(html)

    clinicians = OfferingFactory(creator=therapist, status=OfferingStatus.DRAFT)
    LessonFactory(section=SectionFactory(offering=clinicians))
    db.session.flush()
    web.submit(f"/studio/courses/{clinicians.id}/publish", {}, form_url=f"/studio/courses/{clinicians.id}")
    db.session.refresh(clinicians)
    assert clinicians.status is OfferingStatus.PUBLISHED


def test_a_published_offering_for_the_public_from_before_the_confirmation_asks_for_it(web, therapist):
    """Published before publishing asked (the column came in unticked): it stays listed, and its studio page
    asks the creator to confirm on Details, which can't be saved without it."""
    offering, _ = public_offering(therapist)
    assert offering.testimonials_unsolicited is False
    page = text_of(web.client.get(f"/studio/courses/{offering.id}").get_data(as_text=True))
    assert "Confirm on Details that its page quotes no testimonial you asked a current or former client for" in page

    answer = web.submit(f"/studio/courses/{offering.id}/edit", {**DETAILS, "testimonials_unsolicited": ""})
    assert "A published offering for the public needs this" in text_of(answer.get_data(as_text=True))
    db.session.refresh(offering)
    assert offering.title == "While You Wait", "nothing of the form was saved"
    web.submit(f"/studio/courses/{offering.id}/edit", {**DETAILS})
    db.session.refresh(offering)
    assert offering.testimonials_unsolicited is True
    page = text_of(web.client.get(f"/studio/courses/{offering.id}").get_data(as_text=True))
    assert "Confirm on Details" not in page
