"""Quiz editor routes under /studio/courses/<id>/lessons/<lid>/quiz.

GET/POST /courses/<id>/lessons/<lid>/quiz                  quiz settings and questions
POST /courses/<id>/lessons/<lid>/quiz/questions            add a question
GET/POST /courses/<id>/lessons/<lid>/quiz/questions/<qid>/edit
POST /courses/<id>/lessons/<lid>/quiz/questions/<qid>/move|delete
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import selectinload

from ...access import owned_offering_or_404, studio_required
from ...models import Lesson, LessonKind, Offering, QuizQuestion, Section
from .. import bp
from ..offerings.forms import ConfirmForm
from . import services
from .forms import (
    MAX_CHOICES,
    MoveForm,
    QuestionForm,
    QuizSettingsForm,
)
from .services import CurriculumError
from .views import lesson_of

# Quizzes


QUIZ_OPTIONS = (
    selectinload(Offering.sections)
    .selectinload(Section.lessons)
    .selectinload(Lesson.questions)
    .selectinload(QuizQuestion.choices),
)


def _question_form(question: QuizQuestion | None = None) -> QuestionForm:
    if request.method == "POST" or question is None:
        return QuestionForm()
    return QuestionForm(
        data={
            "prompt": question.prompt,
            "explanation": question.explanation,
            "choices": [{"text": c.text, "is_correct": c.is_correct} for c in question.choices],
        }
    )


def _render_quiz(offering, lesson, settings_form, question_form, editing=None):
    return render_template(
        "studio/quiz.html",
        offering=offering,
        lesson=lesson,
        settings_form=settings_form,
        question_form=question_form,
        editing=editing,
        visible_choices=max([4, *(i + 1 for i, e in enumerate(question_form.choices) if e.form.text.data)]),
        max_choices=MAX_CHOICES,
    )


def _quiz_lesson_of(offering: Offering, lesson_id: int) -> Lesson:
    lesson = lesson_of(offering, lesson_id)
    if lesson.kind is not LessonKind.QUIZ:
        abort(404)
    return lesson


def _question_of(lesson: Lesson, question_id: int) -> QuizQuestion:
    question = next((q for q in lesson.questions if q.id == question_id), None)
    if question is None:
        abort(404)
    return question


@bp.route("/courses/<int:offering_id>/lessons/<int:lesson_id>/quiz", methods=["GET", "POST"])
@studio_required
def quiz(offering_id: int, lesson_id: int):
    """A quiz lesson's pass mark, attempts and feedback, and its list of questions."""
    offering = owned_offering_or_404(offering_id, *QUIZ_OPTIONS)
    lesson = _quiz_lesson_of(offering, lesson_id)
    form = QuizSettingsForm(
        data={
            "pass_percent": lesson.quiz_pass_percent,
            "max_attempts": lesson.quiz_max_attempts,
            "reveal_answers": lesson.quiz_reveal_answers,
        }
        if request.method == "GET"
        else None
    )
    if form.validate_on_submit():
        try:
            services.save_quiz_settings(
                lesson, form.pass_percent.data, form.max_attempts.data, form.reveal_answers.data
            )
        except CurriculumError as error:  # a published CE offering's rules
            form.pass_percent.errors = [*form.pass_percent.errors, str(error)]
        else:
            flash("Quiz settings saved.", "success")
            return redirect(url_for("studio.quiz", offering_id=offering.id, lesson_id=lesson.id))
    return _render_quiz(offering, lesson, form, QuestionForm(formdata=None))


@bp.post("/courses/<int:offering_id>/lessons/<int:lesson_id>/quiz/questions")
@studio_required
def new_question(offering_id: int, lesson_id: int):
    """Add a multiple-choice question at the end of the quiz."""
    offering = owned_offering_or_404(offering_id, *QUIZ_OPTIONS)
    lesson = _quiz_lesson_of(offering, lesson_id)
    form = QuestionForm()
    settings = QuizSettingsForm(
        formdata=None,
        data={
            "pass_percent": lesson.quiz_pass_percent,
            "max_attempts": lesson.quiz_max_attempts,
            "reveal_answers": lesson.quiz_reveal_answers,
        },
    )
    if not form.validate_on_submit():
        return _render_quiz(offering, lesson, settings, form)
    try:
        question = services.save_question(lesson, None, form.prompt.data, form.explanation.data, form.cleaned_choices())
    except CurriculumError as error:  # a published CE offering's rules
        form.prompt.errors = [*form.prompt.errors, str(error)]
        return _render_quiz(offering, lesson, settings, form)
    flash("Question added.", "success")
    return redirect(
        url_for("studio.quiz", offering_id=offering.id, lesson_id=lesson.id, _anchor=f"question-{question.id}")
    )


@bp.route(
    "/courses/<int:offering_id>/lessons/<int:lesson_id>/quiz/questions/<int:question_id>/edit", methods=["GET", "POST"]
)
@studio_required
def edit_question(offering_id: int, lesson_id: int, question_id: int):
    """Rewrite a question and its choices."""
    offering = owned_offering_or_404(offering_id, *QUIZ_OPTIONS)
    lesson = _quiz_lesson_of(offering, lesson_id)
    question = _question_of(lesson, question_id)
    form = _question_form(question)
    if form.validate_on_submit():
        try:
            services.save_question(lesson, question, form.prompt.data, form.explanation.data, form.cleaned_choices())
        except CurriculumError as error:  # a published CE offering's rules
            form.prompt.errors = [*form.prompt.errors, str(error)]
        else:
            flash("Question saved.", "success")
            return redirect(
                url_for("studio.quiz", offering_id=offering.id, lesson_id=lesson.id, _anchor=f"question-{question.id}")
            )
    return _render_quiz(offering, lesson, None, form, editing=question)


@bp.post("/courses/<int:offering_id>/lessons/<int:lesson_id>/quiz/questions/<int:question_id>/move")
@studio_required
def move_question(offering_id: int, lesson_id: int, question_id: int):
    """Move a question one place up or down."""
    offering = owned_offering_or_404(offering_id, *QUIZ_OPTIONS)
    lesson = _quiz_lesson_of(offering, lesson_id)
    question = _question_of(lesson, question_id)
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    services.move_question(lesson, question, form.direction.data)
    return redirect(
        url_for("studio.quiz", offering_id=offering.id, lesson_id=lesson.id, _anchor=f"question-{question.id}")
    )


@bp.post("/courses/<int:offering_id>/lessons/<int:lesson_id>/quiz/questions/<int:question_id>/delete")
@studio_required
def delete_question(offering_id: int, lesson_id: int, question_id: int):
    """Delete a question after the creator confirmed."""
    offering = owned_offering_or_404(offering_id, *QUIZ_OPTIONS)
    lesson = _quiz_lesson_of(offering, lesson_id)
    question = _question_of(lesson, question_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.delete_question(lesson, question)
    except CurriculumError as error:  # a published CE offering's rules
        flash(str(error), "error")
    else:
        flash("Question deleted.", "success")
    return redirect(url_for("studio.quiz", offering_id=offering.id, lesson_id=lesson.id))


# ---------------------------------------------------------------------------
