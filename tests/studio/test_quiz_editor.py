"""A creator writes a quiz: pass mark, attempts, feedback, and multiple-choice questions."""

from __future__ import annotations

import pytest

from courseplatform.extensions import db
from courseplatform.models import LessonKind, QuizChoice, QuizQuestion

from ..factories import PASSWORD, CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory


@pytest.fixture
def quiz(web):
    profile = CreatorProfileFactory(user__email="maya@example.org")
    web.login("maya@example.org", PASSWORD)
    offering = OfferingFactory(creator=profile)
    section = SectionFactory(offering=offering, position=0)
    return LessonFactory(section=section, kind=LessonKind.QUIZ, title="Grounding check", position=0)


def quiz_url(lesson) -> str:
    return f"/studio/courses/{lesson.section.offering_id}/lessons/{lesson.id}/quiz"


def question_data(prompt="Which sense comes first in 5-4-3-2-1?", choices=(), explanation="") -> dict:
    data = {"prompt": prompt, "explanation": explanation}
    for index, (text, correct) in enumerate(choices):
        data[f"choices-{index}-text"] = text
        if correct:
            data[f"choices-{index}-is_correct"] = "y"
    return data


def questions(lesson) -> list[tuple[str, list[tuple[str, bool]]]]:
    db.session.expire_all()
    rows = db.session.scalars(db.select(QuizQuestion).filter_by(lesson_id=lesson.id).order_by(QuizQuestion.position))
    return [(q.prompt, [(c.text, c.is_correct) for c in q.choices]) for q in rows]


def add(web, lesson, **kwargs):
    return web.submit(quiz_url(lesson) + "/questions", question_data(**kwargs), form_url=quiz_url(lesson))


def test_empty_quiz_explains_what_to_do(client, quiz):
    html = client.get(quiz_url(quiz)).get_data(as_text=True)
    assert "No questions yet" in html
    assert "Add a question" in html


def test_settings_are_saved(web, quiz):
    response = web.submit(quiz_url(quiz), {"pass_percent": "70", "max_attempts": "3"})
    assert "Quiz settings saved." in response.get_data(as_text=True)
    db.session.refresh(quiz)
    assert (quiz.quiz_pass_percent, quiz.quiz_max_attempts, quiz.quiz_reveal_answers) == (70, 3, False)

    web.submit(quiz_url(quiz), {"pass_percent": "100", "max_attempts": "", "reveal_answers": "y"})
    db.session.refresh(quiz)
    assert (quiz.quiz_pass_percent, quiz.quiz_max_attempts, quiz.quiz_reveal_answers) == (100, None, True)


def test_bad_settings_have_clear_messages_and_change_nothing(web, quiz):
    for change, message in [
        ({"pass_percent": "101"}, "Enter a pass mark from 0 to 100."),
        ({"pass_percent": ""}, "Enter a pass mark from 0 to 100."),
        ({"max_attempts": "0"}, "Leave it blank for unlimited, or 1 to 100."),
    ]:
        html = web.submit(quiz_url(quiz), {"pass_percent": "50", "max_attempts": "2", **change}).get_data(as_text=True)
        assert message in html, change
    db.session.refresh(quiz)
    assert (quiz.quiz_pass_percent, quiz.quiz_max_attempts) == (80, None)


def test_a_question_with_several_right_answers_is_saved_in_order(web, client, quiz):
    response = add(
        web,
        quiz,
        choices=[("Sight", True), ("", False), ("Sound", False), ("Touch", True)],
        explanation="Start with what you can see.",
    )
    assert "Question added." in response.get_data(as_text=True)
    assert questions(quiz) == [
        ("Which sense comes first in 5-4-3-2-1?", [("Sight", True), ("Sound", False), ("Touch", True)])
    ]
    question = db.session.scalar(db.select(QuizQuestion).filter_by(lesson_id=quiz.id))
    assert question.explanation == "Start with what you can see."
    html = client.get(quiz_url(quiz)).get_data(as_text=True)
    assert "Sight" in html and "Touch" in html and "Question 1" in html


def test_eight_choices_at_most_are_accepted(web, quiz):
    choices = [(f"Choice {n}", n == 0) for n in range(10)]
    add(web, quiz, choices=choices)
    saved = questions(quiz)[0][1]
    assert len(saved) == 8


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (question_data(choices=[("Sight", False), ("Sound", False)]), "Mark at least one choice as correct."),
        (question_data(choices=[("Sight", True)]), "Give at least 2 choices."),
        (question_data(choices=[("Sight", True), ("  ", False)]), "Give at least 2 choices."),
        (
            question_data(choices=[("Sight", False), ("Sound", False), ("", True)]),
            "A choice marked correct needs its text.",
        ),
        (question_data(prompt="", choices=[("Sight", True), ("Sound", False)]), "Write the question."),
        (question_data(choices=[("x" * 501, True), ("Sound", False)]), "Field cannot be longer than 500 characters."),
    ],
)
def test_invalid_questions_are_refused_with_a_clear_message_and_nothing_is_saved(web, quiz, data, message):
    response = web.submit(quiz_url(quiz) + "/questions", data, form_url=quiz_url(quiz))
    html = response.get_data(as_text=True)
    assert message in html
    assert 'value="Sight"' in html or data["prompt"] == "" or "x" * 501 in html, "what was typed is kept"
    assert questions(quiz) == []
    assert db.session.scalar(db.select(db.func.count(QuizChoice.id))) == 0


def test_editing_a_question_replaces_its_choices(web, client, quiz):
    add(web, quiz, choices=[("Sight", True), ("Sound", False)])
    question = db.session.scalar(db.select(QuizQuestion).filter_by(lesson_id=quiz.id))
    edit_url = f"{quiz_url(quiz)}/questions/{question.id}/edit"
    form = client.get(edit_url).get_data(as_text=True)
    assert 'value="Sight"' in form and "Edit question 1" in form

    html = web.submit(edit_url, question_data(prompt="Changed?", choices=[("Only one", True)])).get_data(as_text=True)
    assert "Give at least 2 choices." in html
    assert questions(quiz) == [("Which sense comes first in 5-4-3-2-1?", [("Sight", True), ("Sound", False)])]

    web.submit(
        edit_url, question_data(prompt="Changed?", choices=[("Smell", False), ("Taste", True), ("Sight", False)])
    )
    assert questions(quiz) == [("Changed?", [("Smell", False), ("Taste", True), ("Sight", False)])]


def test_questions_are_reordered_and_deleted_keeping_positions_contiguous(web, quiz):
    for prompt in ("One?", "Two?", "Three?"):
        add(web, quiz, prompt=prompt, choices=[("Yes", True), ("No", False)])
    ids = {q.prompt: q.id for q in db.session.scalars(db.select(QuizQuestion).filter_by(lesson_id=quiz.id))}

    web.submit(f"{quiz_url(quiz)}/questions/{ids['Three?']}/move", {"direction": "up"}, form_url=quiz_url(quiz))
    assert [p for p, _ in questions(quiz)] == ["One?", "Three?", "Two?"]
    web.submit(f"{quiz_url(quiz)}/questions/{ids['One?']}/move", {"direction": "up"}, form_url=quiz_url(quiz))
    assert [p for p, _ in questions(quiz)] == ["One?", "Three?", "Two?"]
    web.submit(f"{quiz_url(quiz)}/questions/{ids['One?']}/delete", {}, form_url=quiz_url(quiz))
    assert [p for p, _ in questions(quiz)] == ["Three?", "Two?"]
    positions = db.session.scalars(
        db.select(QuizQuestion.position).filter_by(lesson_id=quiz.id).order_by(QuizQuestion.position)
    ).all()
    assert positions == [0, 1]


def test_only_quiz_lessons_have_a_quiz_editor(client, quiz):
    text_lesson = LessonFactory(section=quiz.section, kind=LessonKind.TEXT)
    assert client.get(quiz_url(text_lesson)).status_code == 404


def test_a_question_of_another_quiz_is_not_found(web, client, quiz):
    other_quiz = LessonFactory(section=quiz.section, kind=LessonKind.QUIZ, title="Other")
    add(web, other_quiz, choices=[("Yes", True), ("No", False)])
    question = db.session.scalar(db.select(QuizQuestion).filter_by(lesson_id=other_quiz.id))
    assert client.get(f"{quiz_url(quiz)}/questions/{question.id}/edit").status_code == 404
