"""The course player: offerings with lessons, quizzes, learners signed in, and the pages' addresses and tokens."""

from __future__ import annotations

import re

import factory

from courseplatform.extensions import db
from courseplatform.models import Lesson, LessonKind, QuizChoice, QuizQuestion

from ..helpers import csrf_token_from
from .accounts import UserFactory
from .base import PASSWORD, Base
from .catalog import LessonFactory, OfferingFactory, SectionFactory
from .enrollments import EnrollmentFactory

META_CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def offering_with_lessons(lessons_per_section=(2, 2), **offering_fields):
    """A published offering with sections of text lessons; returns (course, lessons in outline order)."""
    offering = OfferingFactory(**offering_fields)
    lessons = []
    for s, count in enumerate(lessons_per_section):
        section = SectionFactory(offering=offering, position=s, title=f"Part {s + 1}")
        for n in range(count):
            lessons.append(LessonFactory(section=section, position=n, title=f"Lesson {s + 1}.{n + 1}"))
    db.session.flush()
    return offering, lessons


class QuizChoiceFactory(Base):
    class Meta:
        model = QuizChoice

    text = factory.Sequence(lambda n: f"Choice {n}")
    is_correct = False
    position = factory.Sequence(lambda n: n)


class QuizQuestionFactory(Base):
    class Meta:
        model = QuizQuestion

    prompt = factory.Sequence(lambda n: f"Question {n}?")
    position = factory.Sequence(lambda n: n)
    explanation = factory.LazyAttribute(lambda o: f"Why: {o.prompt}")


def add_quiz(section, questions, position=99, **fields) -> Lesson:
    """A quiz lesson; `questions` is a list of (prompt, [(choice text, is right), ...])."""
    lesson = LessonFactory(section=section, position=position, kind=LessonKind.QUIZ, body="", **fields)
    for q_index, (prompt, choices) in enumerate(questions):
        question = QuizQuestionFactory(lesson=lesson, prompt=prompt, position=q_index)
        for c_index, (text, right) in enumerate(choices):
            QuizChoiceFactory(question=question, text=text, is_correct=right, position=c_index)
    db.session.flush()
    return lesson


def learner_in(offering, web, time_zone="America/New_York", **enrollment_fields):
    """A learner enrolled in `offering` and signed in through `web`; returns (user, enrollment)."""
    user = UserFactory(time_zone=time_zone)
    enrollment = EnrollmentFactory(user=user, offering=offering, **enrollment_fields)
    db.session.flush()
    web.login(user.email, PASSWORD)
    return user, enrollment


def lesson_url(offering, lesson, suffix: str = "") -> str:
    return f"/learn/{offering.slug}/lessons/{lesson.id}{suffix}"


def page_token(client, url: str) -> str:
    """The CSRF token of a page (from its form, else its meta tag)."""
    html = client.get(url).get_data(as_text=True)
    match = META_CSRF_RE.search(html)
    return match.group(1) if match else csrf_token_from(html)
