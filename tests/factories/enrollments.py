"""Enrollments: a person's access to an offering."""

from __future__ import annotations

import factory

from courseplatform.models import Enrollment, EnrollmentSource

from .accounts import UserFactory
from .base import Base
from .catalog import OfferingFactory


class EnrollmentFactory(Base):
    class Meta:
        model = Enrollment

    user = factory.SubFactory(UserFactory)
    offering = factory.SubFactory(OfferingFactory)
    source = EnrollmentSource.FREE
