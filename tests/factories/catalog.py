"""Offerings and the catalog: courses and workshops, their sections and lessons, topics, waitlists."""

from __future__ import annotations

from datetime import timedelta

import factory

from courseplatform.models import (
    Lesson,
    LessonKind,
    Offering,
    OfferingKind,
    OfferingStatus,
    Section,
    Topic,
    WaitlistEntry,
    utcnow,
)

from .accounts import CreatorProfileFactory
from .base import Base


class OfferingFactory(Base):
    class Meta:
        model = Offering

    creator = factory.SubFactory(CreatorProfileFactory)
    kind = OfferingKind.COURSE
    title = factory.Sequence(lambda n: f"Course {n}")
    slug = factory.Sequence(lambda n: f"course-{n}")
    subtitle = "A practical course for clinicians."
    description = "Learn something useful."
    price_cents = 9900
    currency = "USD"
    status = OfferingStatus.PUBLISHED
    published_at = factory.LazyFunction(lambda: utcnow() - timedelta(days=1))


class SectionFactory(Base):
    class Meta:
        model = Section

    offering = factory.SubFactory(OfferingFactory)
    title = factory.Sequence(lambda n: f"Section {n}")
    position = factory.Sequence(lambda n: n)


class LessonFactory(Base):
    class Meta:
        model = Lesson

    section = factory.SubFactory(SectionFactory)
    title = factory.Sequence(lambda n: f"Lesson {n}")
    kind = LessonKind.TEXT
    body = "Some words."
    position = factory.Sequence(lambda n: n)


class TopicFactory(Base):
    class Meta:
        model = Topic

    name = factory.Sequence(lambda n: f"Topic {n}")
    slug = factory.LazyAttributeSequence(lambda o, n: f"{o.name.lower().replace(' ', '-')}-{n}")


class WaitlistEntryFactory(Base):
    class Meta:
        model = WaitlistEntry

    class Params:
        offering = factory.SubFactory(OfferingFactory)

    offering_id = factory.SelfAttribute("offering.id")
    email = factory.Sequence(lambda n: f"waiting{n}@example.org")


def topic(name: str, slug: str | None = None) -> Topic:
    """A topic named `name` (its slug made unique unless given)."""
    return TopicFactory(name=name, **({"slug": slug} if slug else {}))


def waitlist_entry(offering, email: str, **kw) -> WaitlistEntry:
    return WaitlistEntryFactory(offering=offering, email=email, **kw)
