"""Test data for the course player: offerings with lessons, quizzes, learners signed in."""

from __future__ import annotations

import re
import uuid

from courseplatform.extensions import db
from courseplatform.models import Lesson, LessonKind, MediaAsset, MediaStatus, QuizChoice, QuizQuestion

from ..conftest import csrf_token_from
from ..factories import PASSWORD, CourseFactory, EnrollmentFactory, LessonFactory, SectionFactory, UserFactory

META_CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def offering(lessons_per_section=(2, 2), **course_fields):
    """A published offering with sections of text lessons; returns (course, lessons in outline order)."""
    course = CourseFactory(**course_fields)
    lessons = []
    for s, count in enumerate(lessons_per_section):
        section = SectionFactory(course=course, position=s, title=f"Part {s + 1}")
        for n in range(count):
            lessons.append(LessonFactory(section=section, position=n, title=f"Lesson {s + 1}.{n + 1}"))
    db.session.flush()
    return course, lessons


def with_video(lesson: Lesson, content_type: str = "video/mp4") -> Lesson:
    """Give a lesson a ready video file (the bytes are never fetched: pages only link to them)."""
    course = lesson.section.course
    lesson.kind = LessonKind.VIDEO
    lesson.media_asset = MediaAsset(
        owner_id=course.creator.user_id,
        storage_key=f"uploads/{uuid.uuid4().hex}/talk.mp4",
        original_name="talk.mp4",
        content_type=content_type,
        size_bytes=1000,
        status=MediaStatus.READY,
    )
    db.session.flush()
    return lesson


def add_quiz(section, questions, position=99, **fields) -> Lesson:
    """A quiz lesson; `questions` is a list of (prompt, [(choice text, is right), ...])."""
    lesson = LessonFactory(section=section, position=position, kind=LessonKind.QUIZ, body="", **fields)
    for q_index, (prompt, choices) in enumerate(questions):
        question = QuizQuestion(lesson=lesson, prompt=prompt, position=q_index, explanation=f"Why: {prompt}")
        for c_index, (text, right) in enumerate(choices):
            question.choices.append(QuizChoice(text=text, is_correct=right, position=c_index))
        db.session.add(question)
    db.session.flush()
    return lesson


def learner_in(course, web, time_zone="America/New_York", **enrollment_fields):
    """A learner enrolled in `course` and signed in through `web`; returns (user, enrollment)."""
    user = UserFactory(time_zone=time_zone)
    enrollment = EnrollmentFactory(user=user, course=course, **enrollment_fields)
    db.session.flush()
    web.login(user.email, PASSWORD)
    return user, enrollment


def lesson_url(course, lesson, suffix: str = "") -> str:
    return f"/learn/{course.slug}/lessons/{lesson.id}{suffix}"


def page_token(client, url: str) -> str:
    """The CSRF token of a page (from its form, else its meta tag)."""
    html = client.get(url).get_data(as_text=True)
    match = META_CSRF_RE.search(html)
    return match.group(1) if match else csrf_token_from(html)
