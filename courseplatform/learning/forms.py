"""Learner forms: marking a lesson complete, answering a quiz, and checking in to a live session."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from ..models import QuizQuestion
from .quiz import is_select_all


class MarkCompleteForm(FlaskForm):
    """The "Mark complete" button under a lesson (and the player's request at about 90 %): CSRF only."""


class CheckInForm(FlaskForm):
    """The check-in code a presenter shows during a live session."""

    code = StringField(
        "Check-in code",
        validators=[DataRequired(message="Enter the code shown in the session."), Length(max=40)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false", "maxlength": 40},
    )


class CheckboxesField(SelectMultipleField):
    """Several choices, each a checkbox: "select all that apply"."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class QuizForm(FlaskForm):
    """A quiz's answers, one field per question (named `q<question id>`); built by `quiz_form`."""

    question_ids: list[int] = []

    def question_field(self, question: QuizQuestion):
        """The field answering `question`, for the template."""
        return self[field_name(question.id)]

    def answers(self) -> dict[int, set[int]]:
        """The ticked choices by question id."""
        answers = {}
        for question_id in self.question_ids:
            data = self[field_name(question_id)].data
            answers[question_id] = set(data) if isinstance(data, list) else {data}
        return answers


def field_name(question_id: int) -> str:
    """The form field of a question: `q<question id>`."""
    return f"q{question_id}"


def quiz_form(questions: list[QuizQuestion], answers: dict[int, list[int]] | None = None, **kwargs) -> QuizForm:
    """A form for these questions: radio buttons for one right answer, checkboxes for several.

    `answers` ticks earlier choices again (the learner's last attempt); without `formdata=None`
    in `kwargs` the form reads the submitted request.
    """
    fields = {}
    data = {}
    for question in questions:
        choices = [SelectChoice(choice.id, choice.text) for choice in question.choices]
        earlier = (answers or {}).get(question.id, [])
        if is_select_all(question):
            fields[field_name(question.id)] = CheckboxesField(
                question.prompt,
                choices=choices,
                coerce=int,
                validators=[DataRequired("Tick every answer that applies (at least one).")],
            )
            data[field_name(question.id)] = list(earlier)
        else:
            fields[field_name(question.id)] = RadioField(
                question.prompt, choices=choices, coerce=int, validators=[InputRequired("Choose an answer.")]
            )
            data[field_name(question.id)] = earlier[0] if earlier else None
    form_class = type("LessonQuizForm", (QuizForm,), {**fields, "question_ids": [q.id for q in questions]})
    return form_class(data=data, **kwargs)
