"""Quizzes as a learner takes them: scored on the server, attempts numbered and limited, answers kept.

A question counts as right when the set of choices ticked is exactly the set of right ones
(a question with several right choices is "select all that apply"). The score is a whole
percentage, rounded half up, so 2 of 3 right is 67 %; the quiz is passed when the score
reaches the lesson's pass mark. A passing attempt completes the lesson. Once passed, a quiz
is not taken again: the result stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Enrollment, Lesson, QuizAttempt, QuizQuestion, utcnow
from .progress import complete_lesson

# Tries at numbering an attempt when another submission of the same learner takes the number first.
_NUMBERING_TRIES = 3


class QuizClosed(Exception):
    """The learner may not submit this quiz now; the message says why, in their words."""


@dataclass(frozen=True)
class QuestionResult:
    """One question of an attempt: what the learner ticked against what was right."""

    question: QuizQuestion
    chosen: frozenset[int]
    correct: frozenset[int]

    @property
    def is_right(self) -> bool:
        return self.chosen == self.correct


@dataclass(frozen=True)
class QuizStanding:
    """A learner's standing on one quiz: the latest attempt, how many they've used, whether they may try again."""

    lesson: Lesson
    latest: QuizAttempt | None
    attempts_used: int

    @property
    def passed(self) -> bool:
        return self.latest is not None and self.latest.passed

    @property
    def attempts_left(self) -> int | None:
        """None when the creator allows any number of attempts."""
        if self.lesson.quiz_max_attempts is None:
            return None
        return max(self.lesson.quiz_max_attempts - self.attempts_used, 0)

    @property
    def can_attempt(self) -> bool:
        return not self.passed and self.attempts_left != 0

    @property
    def closed_message(self) -> str:
        """Why no attempt is possible (empty while one is)."""
        if self.passed:
            return "You've passed this quiz; your result stands."
        if self.attempts_left == 0:
            n = self.lesson.quiz_max_attempts
            return f"You've used all {n} attempt{'' if n == 1 else 's'}; contact the creator if you'd like another."
        return ""

    def results(self, questions: list[QuizQuestion]) -> list[QuestionResult]:
        """The latest attempt, question by question (empty before the first attempt)."""
        if self.latest is None:
            return []
        return [result_of(question, self.latest.answers) for question in questions]

    def last_answers(self) -> dict[int, list[int]]:
        """The latest attempt's answers by question id, to tick them again on the form."""
        if self.latest is None:
            return {}
        return {int(question_id): list(choices) for question_id, choices in self.latest.answers.items()}


@dataclass(frozen=True)
class Submitted:
    """A recorded attempt, and whether passing it completed the whole offering."""

    attempt: QuizAttempt
    completed_offering: bool


def quiz_questions(lesson: Lesson) -> list[QuizQuestion]:
    """The quiz's questions in order with their choices (two queries)."""
    return list(
        db.session.scalars(
            sa.select(QuizQuestion)
            .where(QuizQuestion.lesson_id == lesson.id)
            .options(selectinload(QuizQuestion.choices))
            .order_by(QuizQuestion.position, QuizQuestion.id)
        )
    )


def is_select_all(question: QuizQuestion) -> bool:
    """A question with more than one right choice asks the learner to tick every right one."""
    return sum(choice.is_correct for choice in question.choices) > 1


def quiz_standing(enrollment: Enrollment, lesson: Lesson) -> QuizStanding:
    """The learner's latest attempt at the quiz and how many attempts they've made (one query)."""
    row = db.session.execute(
        sa.select(QuizAttempt, sa.func.count().over())
        .where(QuizAttempt.enrollment_id == enrollment.id, QuizAttempt.lesson_id == lesson.id)
        .order_by(QuizAttempt.attempt_number.desc())
        .limit(1)
    ).first()
    if row is None:
        return QuizStanding(lesson, None, 0)
    return QuizStanding(lesson, row[0], row[1])


def result_of(question: QuizQuestion, answers: dict) -> QuestionResult:
    """How one question went, from answers stored as {"<question id>": [choice ids]}."""
    return QuestionResult(
        question,
        frozenset(answers.get(str(question.id), ())),
        frozenset(choice.id for choice in question.choices if choice.is_correct),
    )


def score_percent(questions: list[QuizQuestion], answers: dict) -> int:
    """The share of questions answered exactly right, as a whole percentage rounded half up."""
    if not questions:
        return 0
    right = sum(result_of(question, answers).is_right for question in questions)
    return (200 * right + len(questions)) // (2 * len(questions))


def submit_quiz(
    enrollment: Enrollment,
    lesson: Lesson,
    questions: list[QuizQuestion],
    answers: dict[int, set[int]],
    now: datetime | None = None,
) -> Submitted:
    """Score an attempt and record it under the next number (flushed); a pass completes the lesson.

    Raises QuizClosed when the quiz is already passed or every attempt is used. Two submissions
    racing for the same number: the loser takes the next one (and is refused if none is left).
    """
    now = now or utcnow()
    stored = {str(question_id): sorted(choices) for question_id, choices in answers.items()}
    score = score_percent(questions, stored)
    for _ in range(_NUMBERING_TRIES):
        standing = quiz_standing(enrollment, lesson)
        if not standing.can_attempt:
            raise QuizClosed(standing.closed_message)
        attempt = QuizAttempt(
            enrollment_id=enrollment.id,
            lesson_id=lesson.id,
            attempt_number=(standing.latest.attempt_number if standing.latest else 0) + 1,
            answers=stored,
            score_percent=score,
            passed=score >= lesson.quiz_pass_percent,
            submitted_at=now,
        )
        try:
            with db.session.begin_nested():
                db.session.add(attempt)
        except sa.exc.IntegrityError:
            continue
        completed_offering = complete_lesson(enrollment, lesson, now) if attempt.passed else False
        return Submitted(attempt, completed_offering)
    raise QuizClosed("Your answers arrived twice at the same moment. Please reload the page to see your result.")
