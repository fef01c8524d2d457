"""Quizzes: server-side scoring, the pass mark, the attempts limit, answers kept, and what is revealed."""

from __future__ import annotations

import html as html_lib
import re

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from courseplatform.extensions import db
from courseplatform.learning.quiz import QuizClosed, quiz_questions, score_percent, submit_quiz
from courseplatform.models import Enrollment, EnrollmentStatus, LessonProgress, QuizAttempt, utcnow

from ..factories import PASSWORD, LessonFactory
from ..factories.player import add_quiz, learner_in, lesson_url, offering_with_lessons, page_token

QUESTIONS = [
    ("Which is a grounding skill?", [("5-4-3-2-1 senses", True), ("Doom scrolling", False)]),
    ("Select every body-based skill.", [("Paced breathing", True), ("Feet on the floor", True), ("Rumination", False)]),
    ("How long is a box-breath side?", [("4 counts", True), ("40 counts", False), ("1 count", False)]),
]


@pytest.fixture
def quiz_world(web):
    """A learner signed in, an offering of one text lesson and a three-question quiz (pass mark 67 %)."""
    offering, lessons = offering_with_lessons((1,))
    quiz = add_quiz(lessons[0].section, QUESTIONS, quiz_pass_percent=67, quiz_max_attempts=3)
    _, enrollment = learner_in(offering, web)
    return offering, quiz, enrollment


def choice_ids(quiz) -> list[dict[str, int]]:
    """For each question, choice text → id."""
    return [{c.text: c.id for c in q.choices} for q in quiz_questions(quiz)]


def answer(client, offering, quiz, picks: list[list[str]], follow=True):
    """Submit the quiz as the form would: `picks` holds, per question, the texts ticked."""
    ids = choice_ids(quiz)
    questions = quiz_questions(quiz)
    data = {"csrf_token": page_token(client, lesson_url(offering, quiz))}
    for question, by_text, texts in zip(questions, ids, picks, strict=True):
        if texts:
            data[f"q{question.id}"] = [by_text[t] for t in texts]
    return client.post(lesson_url(offering, quiz, "/quiz"), data=data, follow_redirects=follow)


ALL_RIGHT = [["5-4-3-2-1 senses"], ["Paced breathing", "Feet on the floor"], ["4 counts"]]
TWO_RIGHT = [["5-4-3-2-1 senses"], ["Paced breathing"], ["4 counts"]]
ONE_RIGHT = [["Doom scrolling"], ["Paced breathing", "Feet on the floor"], ["40 counts"]]


def attempts(enrollment) -> list[QuizAttempt]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(QuizAttempt)
            .where(QuizAttempt.enrollment_id == enrollment.id)
            .order_by(QuizAttempt.attempt_number)
        )
    )


def lesson_done(enrollment, lesson) -> bool:
    return (
        db.session.scalar(
            sa.select(LessonProgress.completed_at).where(
                LessonProgress.enrollment_id == enrollment.id, LessonProgress.lesson_id == lesson.id
            )
        )
        is not None
    )


def text(response) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True))))


def test_one_right_answer_gives_radio_buttons_several_give_checkboxes(quiz_world, client):
    offering, quiz, _ = quiz_world
    html = client.get(lesson_url(offering, quiz)).get_data(as_text=True)
    first, second, _ = quiz_questions(quiz)
    assert len(re.findall(rf'type="radio"[^>]*name="q{first.id}"|name="q{first.id}"[^>]*type="radio"', html)) == 2
    assert (
        len(re.findall(rf'name="q{second.id}"[^>]*type="checkbox"|type="checkbox"[^>]*name="q{second.id}"', html)) == 3
    )
    assert "Select all that apply." in html
    assert "Pass mark 67%" in html and "3 attempts" in html


def test_scoring_counts_a_question_only_when_the_ticks_match_exactly(app, quiz_world):
    _, quiz, _ = quiz_world
    questions = quiz_questions(quiz)
    ids = choice_ids(quiz)

    def score(picks):
        return score_percent(
            questions,
            {str(q.id): [ids[i][t] for t in p] for i, (q, p) in enumerate(zip(questions, picks, strict=True))},
        )

    assert score(ALL_RIGHT) == 100
    assert score(TWO_RIGHT) == 67  # half of the select-all question is not right; 2 of 3 rounds to 67
    assert score([["5-4-3-2-1 senses"], ["Paced breathing", "Feet on the floor", "Rumination"], ["1 count"]]) == 33
    assert score([[], [], []]) == 0


def test_passing_exactly_at_the_pass_mark_passes_and_completes_the_lesson(quiz_world, client):
    offering, quiz, enrollment = quiz_world

    response = answer(client, offering, quiz, TWO_RIGHT)

    assert response.request.path == lesson_url(offering, quiz)
    [attempt] = attempts(enrollment)
    assert attempt.score_percent == 67 and attempt.passed and attempt.attempt_number == 1
    assert lesson_done(enrollment, quiz)


def test_one_below_the_pass_mark_fails(quiz_world, client):
    offering, quiz, enrollment = quiz_world
    quiz.quiz_pass_percent = 68
    db.session.flush()

    page = text(answer(client, offering, quiz, TWO_RIGHT))

    [attempt] = attempts(enrollment)
    assert attempt.score_percent == 67 and not attempt.passed
    assert "Not passed yet" in page and "67% · the pass mark is 68%" in page
    assert "You have 2 attempts left." in page
    assert not lesson_done(enrollment, quiz)


def test_a_pass_shows_the_score_and_the_next_step(quiz_world, client):
    offering, quiz, _ = quiz_world
    LessonFactory(section=quiz.section, position=100, title="After the quiz")
    db.session.flush()

    response = answer(client, offering, quiz, ALL_RIGHT)

    assert response.request.path == lesson_url(offering, quiz)
    page = text(response)
    assert "You passed" in page and "100% · the pass mark is 67% · 3 of 3 right" in page
    assert "Next: After the quiz" in page
    assert "Submit" not in page, "a passed quiz is not taken again"


def test_the_attempts_limit_is_enforced_on_the_server(quiz_world, client):
    offering, quiz, enrollment = quiz_world
    for _ in range(3):
        answer(client, offering, quiz, ONE_RIGHT)

    page = text(client.get(lesson_url(offering, quiz)))
    assert "You've used all 3 attempts; contact the creator if you'd like another." in page
    assert "Submit" not in page

    refused = text(answer(client, offering, quiz, ALL_RIGHT))

    assert "You've used all 3 attempts; contact the creator if you'd like another." in refused
    assert [a.attempt_number for a in attempts(enrollment)] == [1, 2, 3]
    assert not lesson_done(enrollment, quiz)


def test_unlimited_attempts_keep_counting(quiz_world, client):
    offering, quiz, enrollment = quiz_world
    quiz.quiz_max_attempts = None
    db.session.flush()
    for _ in range(4):
        page = text(answer(client, offering, quiz, ONE_RIGHT))
    assert "You can try again as often as you like." in page
    assert [a.attempt_number for a in attempts(enrollment)] == [1, 2, 3, 4]


def test_a_passed_quiz_cannot_be_submitted_again(quiz_world, client):
    offering, quiz, enrollment = quiz_world
    answer(client, offering, quiz, ALL_RIGHT)
    token = page_token(client, lesson_url(offering, quiz))
    first = quiz_questions(quiz)[0]

    response = client.post(
        lesson_url(offering, quiz, "/quiz"),
        data={"csrf_token": token, f"q{first.id}": first.choices[1].id},
        follow_redirects=True,
    )

    assert "You've passed this quiz; your result stands." in text(response)
    assert len(attempts(enrollment)) == 1


def test_unanswered_question_is_rejected_without_an_attempt(quiz_world, client):
    offering, quiz, enrollment = quiz_world

    response = answer(client, offering, quiz, [["5-4-3-2-1 senses"], [], []])

    page = text(response)
    assert response.status_code == 200
    assert "Please correct the items marked below." in page
    assert "Tick every answer that applies (at least one)." in page and "Choose an answer." in page
    assert attempts(enrollment) == []
    # what was ticked stays ticked
    ticked = quiz_questions(quiz)[0].choices[0].id
    assert re.search(rf'checked[^>]*value="{ticked}"|value="{ticked}"[^>]*checked', response.get_data(as_text=True))


def test_a_choice_from_another_question_is_refused(quiz_world, client):
    offering, quiz, enrollment = quiz_world
    first, second, third = quiz_questions(quiz)
    token = page_token(client, lesson_url(offering, quiz))
    data = {
        "csrf_token": token,
        f"q{first.id}": third.choices[0].id,
        f"q{second.id}": [second.choices[0].id],
        f"q{third.id}": third.choices[0].id,
    }

    response = client.post(lesson_url(offering, quiz, "/quiz"), data=data)

    assert "Not a valid choice" in response.get_data(as_text=True)
    assert attempts(enrollment) == []


def test_my_last_answers_stay_ticked_when_i_come_back(quiz_world, client):
    offering, quiz, _ = quiz_world
    answer(client, offering, quiz, ONE_RIGHT)
    ids = choice_ids(quiz)
    html = client.get(lesson_url(offering, quiz)).get_data(as_text=True)

    for index, picks in enumerate(ONE_RIGHT):
        for choice_text, choice_id in ids[index].items():
            ticked = bool(
                re.search(
                    rf'<input[^>]*checked[^>]*value="{choice_id}"|<input[^>]*value="{choice_id}"[^>]*checked', html
                )
            )
            assert ticked == (choice_text in picks), choice_text


def test_answers_are_kept_on_the_attempt(quiz_world, client):
    offering, quiz, enrollment = quiz_world
    answer(client, offering, quiz, ONE_RIGHT)
    ids = choice_ids(quiz)
    questions = quiz_questions(quiz)
    [attempt] = attempts(enrollment)
    assert attempt.answers == {
        str(questions[0].id): [ids[0]["Doom scrolling"]],
        str(questions[1].id): sorted([ids[1]["Paced breathing"], ids[1]["Feet on the floor"]]),
        str(questions[2].id): [ids[2]["40 counts"]],
    }


def test_reveal_on_marks_my_wrong_answers_but_keeps_the_key_while_attempts_remain(quiz_world, client):
    offering, quiz, _ = quiz_world

    response = answer(client, offering, quiz, ONE_RIGHT)

    html = response.get_data(as_text=True)
    page = text(response)
    assert "The questions you got wrong are marked below" in page
    assert page.count("Not quite") == 2
    assert page.count("Your answer") == 2 and html.count("is-mistake") == 2
    # Two attempts left: the right answers and explanations would make the next one a formality.
    assert "Right answer" not in page and "is-correct" not in html
    assert "Why:" not in page


def test_reveal_on_shows_the_right_answers_after_the_last_attempt(quiz_world, client):
    offering, quiz, _ = quiz_world
    for _ in range(2):
        answer(client, offering, quiz, ONE_RIGHT)

    response = answer(client, offering, quiz, ONE_RIGHT)

    page = text(response)
    assert "You've used all 3 attempts" in page
    assert page.count("Right answer") == 4
    assert "Why: Which is a grounding skill?" in page and "Why: Select every body-based skill." in page


def test_reveal_off_shows_the_score_but_not_which_answers_were_wrong(quiz_world, client):
    offering, quiz, _ = quiz_world
    quiz.quiz_reveal_answers = False
    db.session.flush()

    response = answer(client, offering, quiz, ONE_RIGHT)

    page = text(response)
    assert "33%" in page and "Not passed yet" in page
    assert "Your last answers are ticked below." in page
    for hidden in ("Right answer", "Your answer", "Not quite", "Why:", " right"):
        assert hidden not in page, hidden


def test_a_double_submit_racing_for_the_same_number_takes_the_next_one(app, quiz_world):
    """The other submission writes attempt 1 just after this one read "no attempts yet"."""
    _, quiz, enrollment = quiz_world
    questions = quiz_questions(quiz)
    wrong = {q.id: {q.choices[-1].id} for q in questions}
    raced = []

    def other_submission_lands(conn, cursor, statement, parameters, context, executemany):
        if not raced and statement.lstrip().upper().startswith("SELECT") and "quiz_attempts" in statement:
            raced.append(True)
            conn.execute(
                sa.insert(QuizAttempt).values(
                    enrollment_id=enrollment.id,
                    lesson_id=quiz.id,
                    attempt_number=1,
                    answers={},
                    score_percent=0,
                    passed=False,
                )
            )

    event.listen(db.engine, "after_cursor_execute", other_submission_lands)
    try:
        submitted = submit_quiz(enrollment, quiz, questions, wrong)
    finally:
        event.remove(db.engine, "after_cursor_execute", other_submission_lands)

    assert raced
    assert submitted.attempt.attempt_number == 2
    assert [a.attempt_number for a in attempts(enrollment)] == [1, 2]
    submit_quiz(enrollment, quiz, questions, wrong)
    with pytest.raises(QuizClosed, match="You've used all 3 attempts"):
        submit_quiz(enrollment, quiz, questions, wrong)


def test_the_creator_sees_the_right_answers_and_records_nothing(web, client):
    offering, lessons = offering_with_lessons((1,))
    quiz = add_quiz(lessons[0].section, QUESTIONS)
    web.login(offering.creator.user.email, PASSWORD)

    page = text(client.get(lesson_url(offering, quiz)))

    assert "The right answers are marked for you." in page
    assert page.count("Right answer") == 4
    assert "Submit" not in page
    token = page_token(client, lesson_url(offering, quiz))
    response = client.post(lesson_url(offering, quiz, "/quiz"), data={"csrf_token": token}, follow_redirects=True)
    assert "answers aren't recorded" in text(response)
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 0


def test_passing_the_last_quiz_completes_the_offering(web, client):
    offering, lessons = offering_with_lessons((1,))
    quiz = add_quiz(lessons[0].section, QUESTIONS[:1])
    _, enrollment = learner_in(offering, web)
    db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=lessons[0].id, completed_at=utcnow()))
    db.session.flush()

    response = answer(client, offering, quiz, [["5-4-3-2-1 senses"]])

    assert response.request.path == f"/learn/{offering.slug}"
    assert f"You passed, and that completes {offering.title}. Well done!" in text(response)
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).completed_at is not None


def test_a_revoked_learner_cannot_submit(quiz_world, client):
    offering, quiz, enrollment = quiz_world
    token = page_token(client, lesson_url(offering, quiz))
    enrollment.status = EnrollmentStatus.REVOKED
    db.session.flush()
    first = quiz_questions(quiz)[0]

    response = client.post(
        lesson_url(offering, quiz, "/quiz"), data={"csrf_token": token, f"q{first.id}": first.choices[0].id}
    )

    assert response.status_code == 403
    assert attempts(enrollment) == []


def test_someone_else_enrolled_elsewhere_cannot_submit(quiz_world, web, client):
    offering, quiz, _ = quiz_world
    other_offering, _ = offering_with_lessons((1,))
    web.logout()
    _, other = learner_in(other_offering, web)
    token = page_token(client, f"/learn/{other_offering.slug}")
    assert client.post(lesson_url(offering, quiz, "/quiz"), data={"csrf_token": token}).status_code == 403
    assert attempts(other) == []
