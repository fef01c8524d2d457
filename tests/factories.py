"""factory_boy factories for test data, written to the test's transaction."""

from __future__ import annotations

from datetime import timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory

from courseplatform.accounts.services import hash_password
from courseplatform.extensions import db
from courseplatform.models import (
    Course,
    CourseKind,
    CourseStatus,
    CreatorProfile,
    Enrollment,
    EnrollmentSource,
    Lesson,
    LessonKind,
    Order,
    OrderStatus,
    PaymentProvider,
    Section,
    User,
    utcnow,
)

PASSWORD = "calm river stones"
_PASSWORD_HASH = hash_password(PASSWORD)


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class UserFactory(Base):
    class Meta:
        model = User

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"person{n}@example.org")
    password_hash = _PASSWORD_HASH
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


class CourseFactory(Base):
    class Meta:
        model = Course

    creator = factory.SubFactory(CreatorProfileFactory)
    kind = CourseKind.COURSE
    title = factory.Sequence(lambda n: f"Course {n}")
    slug = factory.Sequence(lambda n: f"course-{n}")
    subtitle = "A practical course for clinicians."
    description = "Learn something useful."
    price_cents = 9900
    currency = "USD"
    status = CourseStatus.PUBLISHED
    published_at = factory.LazyFunction(lambda: utcnow() - timedelta(days=1))


class SectionFactory(Base):
    class Meta:
        model = Section

    course = factory.SubFactory(CourseFactory)
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


class OrderFactory(Base):
    class Meta:
        model = Order

    learner = factory.SubFactory(UserFactory)
    course = factory.SubFactory(CourseFactory)
    amount_cents = factory.LazyAttribute(lambda o: o.course.price_cents)
    currency = "USD"
    provider = PaymentProvider.TEST
    status = OrderStatus.PAID
    checkout_id = factory.Sequence(lambda n: f"test_cs_{n}")
    paid_at = factory.LazyFunction(utcnow)


class EnrollmentFactory(Base):
    class Meta:
        model = Enrollment

    user = factory.SubFactory(UserFactory)
    course = factory.SubFactory(CourseFactory)
    source = EnrollmentSource.FREE
