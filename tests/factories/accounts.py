"""Accounts: people, and the creator profile that lets one sell."""

from __future__ import annotations

import factory

from courseplatform.models import CreatorProfile, User

from .base import Base, password_hash


class UserFactory(Base):
    class Meta:
        model = User

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"person{n}@example.org")
    password_hash = factory.LazyFunction(password_hash)
    time_zone = "America/New_York"


class CreatorProfileFactory(Base):
    class Meta:
        model = CreatorProfile

    user = factory.SubFactory(UserFactory)
    slug = factory.Sequence(lambda n: f"therapist-{n}")
    display_name = factory.LazyAttribute(lambda o: o.user.name)
    credentials = "LCSW"
    bio = "I help clinicians help their clients."
    currency = "USD"
    default_session_fee_cents = 15000
    default_session_minutes = 50
