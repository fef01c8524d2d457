"""What each accrediting body asks of a CE program, checked when the offering is published.

The rules are the bodies' published standards, summarised:
- every claim needs the creator's approval by that body, for the program's format, covering the
  program's dates (a self-paced program: the day it is published; a live one: every session);
- hours in half-hour steps; learning objectives (NASW: at least 3; APA: one a credit hour, at least
  3); an instructional level, a target audience, a credit category, presenters with credentials,
  a conflict-of-interest and commercial-support disclosure, and the provider's refund, grievance and
  accommodation policies;
- a self-paced program ends in a post-test (California requires one whenever learners can't interact
  with the instructor): NASW asks at least 10 multiple-choice questions for the first hour and 5 for
  each further hour, at most 10 % true/false, and a pass mark of 80 %; APA recommends 75 % and 6 to 8
  questions a credit (a warning, not a refusal);
- NASW forbids advertising approval as pending; APA rarely accepts practice-building topics for
  psychologists' CE (a warning).
"""

from __future__ import annotations

import math
import re
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from ...continuing_education import approvals_of, creator_today, format_of
from ...extensions import db
from ...formatting import zone_or_utc
from ...models import (
    AccreditingBody,
    CEFormat,
    CreatorProfile,
    Lesson,
    LessonKind,
    LiveSession,
    Offering,
    OfferingKind,
    OfferingStatus,
    ProviderApproval,
    QuizQuestion,
    Section,
)

PENDING = re.compile(r"approval\s+(?:is\s+)?pending|pending\s+approval|applied\s+for\s+approval", re.I)
PRACTICE_BUILDING = re.compile(
    r"practice[- ]building|marketing|grow(?:ing)? (?:your|a) practice|private practice business|\bbusiness\b|"
    r"\bsales\b|revenue|passive income|pricing",
    re.I,
)
TRUE_FALSE = {frozenset({"true", "false"}), frozenset({"yes", "no"})}
NOT_A_WORD = re.compile(r"[\W_]+")
SHORT_ANSWERS = {"t": "true", "f": "false", "y": "yes", "n": "no"}
SECTION = "(Continuing education)"


@dataclass
class CEReview:
    """What stops the offering's CE claims from being published, and what the creator should know."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PostTest:
    """The offering's quizzes taken together: its questions, how many are true/false, the lowest pass mark."""

    questions: int
    true_false: int
    pass_percent: int | None

    @property
    def true_false_share(self) -> float:
        return self.true_false / self.questions if self.questions else 0.0


def min_objectives(body: AccreditingBody, hours: float) -> int:
    if body is AccreditingBody.APA:
        return max(3, math.ceil(hours))
    if body is AccreditingBody.NASW:
        return 3
    return 1


def nasw_questions(hours: float) -> int:
    """NASW's smallest post-test: 10 questions for the first hour, 5 for each further (started) hour."""
    return 10 + 5 * max(0, math.ceil(hours) - 1)


def ce_review(offering: Offering, today: date) -> CEReview:
    """Every CE rule the offering breaks for the bodies it claims, and the warnings that don't block it."""
    review = CEReview()
    claims = [claim.body for claim in offering.ce_claims]
    if not claims:
        if offering.ce_minutes:
            review.problems.append(
                f"Choose the bodies that approve these CE hours, or clear the CE hours (Details) {SECTION}."
            )
        return review
    if not offering.ce_minutes:
        review.problems.append("Enter the CE hours this program offers (Details).")
        return review
    hours = offering.ce_minutes / 60
    if offering.ce_minutes % 30:
        review.problems.append(
            "CE hours are awarded in half-hour steps: enter e.g. 1.5 or 2, breaks left out (Details)."
        )
    fmt = format_of(offering)
    if fmt.is_live != (offering.kind is OfferingKind.LIVE_WORKSHOP):
        review.problems.append(
            f"A {offering.kind.label.lower()} can't be offered as “{fmt.label}”: choose the format it is "
            f"delivered in {SECTION}."
        )
    periods: dict[AccreditingBody, list[ProviderApproval]] = {}
    for period in approvals_of(offering.creator):  # each body's periods oldest first
        periods.setdefault(period.body, []).append(period)
    days = _program_days(offering, fmt, today)
    for body in claims:
        held = periods.get(body, [])
        covering = [period for period in held if any(period.covers(day) for day in days)]
        if not held:
            review.problems.append(
                f"You have no {body.label} approval on record: add it (Continuing education approvals) or "
                f"remove the {body.label} claim {SECTION}."
            )
            continue
        approval = (covering or held)[-1]
        if any(fmt not in period.formats for period in covering or [approval]):
            review.problems.append(
                f"Your {body.label} approval doesn't cover “{fmt.label}” programs: remove the {body.label} claim "
                f"or add the format to your approval if the body approved it."
            )
        outside = [day for day in days if not any(period.covers(day) for period in held)]
        if outside:
            review.problems.append(
                f"Your {body.label} approval runs {approval.approved_from:%b %-d, %Y} to "
                f"{approval.approved_until:%b %-d, %Y}; this program falls outside it on {outside[0]:%b %-d, %Y}. "
                f"Renew the approval first, or remove the {body.label} claim."
            )
    _details(offering, claims, hours, review)
    if fmt is CEFormat.SELF_PACED:
        _post_test(offering, claims, hours, review)
    if offering.kind is OfferingKind.LIVE_WORKSHOP:
        _attendance(offering, review)
    if AccreditingBody.NASW in claims and PENDING.search(
        " ".join((offering.title, offering.subtitle, offering.description, offering.ce_approval_statement))
    ):
        review.problems.append("NASW doesn't allow advertising approval as pending: remove those words (Details).")
    if AccreditingBody.APA in claims and PRACTICE_BUILDING.search(
        " ".join((offering.title, offering.subtitle, " ".join(topic.name for topic in offering.topics)))
    ):
        review.warnings.append(
            "APA rarely accepts practice-building or business topics for psychologists' CE: check that this "
            "program's content is eligible before claiming APA credit."
        )
    return review


def _attendance(offering: Offering, review: CEReview) -> None:
    """Live credit is for time attended: the certificate must check it, and in full unless allowed."""
    if not offering.min_attendance_percent:
        review.problems.append(
            "Live CE credit is given only for the time attended: set the minimum attendance for the certificate "
            "(Details; most bodies expect 100 %, with a late-arrival and early-departure allowance such as 15 minutes)."
        )
    elif offering.min_attendance_percent < 100:
        review.warnings.append(
            f"The certificate asks for {offering.min_attendance_percent} % attendance: most bodies give no partial "
            "credit, so a learner who misses part of the program still gets every hour. Check your approval allows it."
        )


@contextmanager
def ce_rules_kept(offering: Offering, error: type[Exception]):
    """Run a change to a published offering only if it breaks none of its CE rules that held before it:
    learners already read its CE statements, so its claims must keep standing (and one without claims
    can't start claiming CE half-done).

    The change runs in a savepoint; one that adds a problem is rolled back and `error` raised with
    the problems. Problems the offering already had (an approval that has since ended) don't block
    an unrelated change, nor one that moves them (an 11th of NASW's 15 questions): problems are told
    apart by their rule, the words without their figures. Other offerings' changes pass straight through.
    """
    if offering.status is not OfferingStatus.PUBLISHED:
        yield
        return
    today = creator_today(offering.creator)
    claimed = bool(offering.ce_claims)
    before = {_rule_of(problem) for problem in ce_review(offering, today).problems}
    with db.session.begin_nested() as change:
        yield
        db.session.flush()
        if not claimed and not offering.ce_claims:
            return  # no claim before or after: hours may be added first, then claims on the CE tab
        added = [problem for problem in ce_review(offering, today).problems if _rule_of(problem) not in before]
        if added:
            title = offering.title  # read before the rollback expires it
            change.rollback()
            raise error(
                f"“{title}” is published with CE credit, so nothing was changed: the change would break "
                "its rules. " + " ".join(added)
            )


@contextmanager
def creators_ce_rules_kept(profile: CreatorProfile, error: type[Exception]):
    """`ce_rules_kept` for every published offering of the creator that claims CE: for a change to what they
    all stand on (the provider's policies, an approval)."""
    offerings = db.session.scalars(
        sa.select(Offering).where(
            Offering.creator_id == profile.id,
            Offering.status == OfferingStatus.PUBLISHED,
            Offering.ce_claims.any(),
        )
    ).all()
    with ExitStack() as guards:
        for offering in offerings:
            guards.enter_context(ce_rules_kept(offering, error))
        yield


FIGURES = re.compile(r"[0-9][0-9,.]*")


def _rule_of(problem: str) -> str:
    """Which rule a problem breaks: its words without the figures (counts, percentages, dates' days)."""
    return FIGURES.sub("#", problem)


def _program_days(offering: Offering, fmt: CEFormat, today: date) -> list[date]:
    """The days the approval must cover: today for a self-paced program, each session's day for a live one."""
    if not fmt.is_live:
        return [today]
    sessions = db.session.execute(
        sa.select(LiveSession.starts_at, LiveSession.time_zone)
        .where(LiveSession.offering_id == offering.id)
        .order_by(LiveSession.starts_at)
    )
    days = sorted({start.astimezone(zone_or_utc(zone)).date() for start, zone in sessions})
    return [day for day in days if day >= today] or [today]


def _details(offering: Offering, claims: list[AccreditingBody], hours: float, review: CEReview) -> None:
    """The program's own details and the provider's policies, as every body asks them."""
    objectives = len(offering.objectives)
    needed = max(min_objectives(body, hours) for body in claims)
    if objectives < needed:
        strictest = max(claims, key=lambda body: min_objectives(body, hours))
        review.problems.append(
            f"{strictest.label} asks for at least {needed} learning objectives for {hours:g} hours; "
            f"this program has {objectives} {SECTION}."
        )
    required = (
        (offering.ce_level is None, "Choose the instructional level"),
        (not offering.ce_audience.strip(), "Say who the program is for (target audience)"),
        (offering.ce_category is None, "Choose the credit category"),
        (not offering.presenters, "Name the presenters with their credentials"),
        (
            not offering.ce_disclosure.strip(),
            "Disclose conflicts of interest and commercial support (write “None” if there are none)",
        ),
    )
    review.problems.extend(f"{what} {SECTION}." for missing, what in required if missing)
    profile = offering.creator
    policies = (
        (profile.ce_refund_policy, "refund and cancellation"),
        (profile.ce_grievance_policy, "grievance"),
        (profile.ce_accommodation_policy, "accommodation (ADA)"),
    )
    review.problems.extend(
        f"Write your {name} policy (Continuing education approvals)." for text, name in policies if not text.strip()
    )


def post_test(offering: Offering) -> PostTest:
    """The offering's quizzes, read together as its post-test."""
    lessons = list(
        db.session.scalars(
            sa.select(Lesson)
            .join(Section, Lesson.section_id == Section.id)
            .where(Section.offering_id == offering.id, Lesson.kind == LessonKind.QUIZ)
        )
    )
    if not lessons:
        return PostTest(0, 0, None)
    questions = list(
        db.session.scalars(
            sa.select(QuizQuestion)
            .where(QuizQuestion.lesson_id.in_([lesson.id for lesson in lessons]))
            .options(sa.orm.selectinload(QuizQuestion.choices))
        )
    )
    true_false = sum(
        1 for question in questions if frozenset(_answer_word(choice.text) for choice in question.choices) in TRUE_FALSE
    )
    return PostTest(len(questions), true_false, min(lesson.quiz_pass_percent for lesson in lessons))


def _answer_word(text: str) -> str:
    """A choice as the word it says ("True." and "T" both say true)."""
    word = NOT_A_WORD.sub("", text).lower()
    return SHORT_ANSWERS.get(word, word)


def _post_test(offering: Offering, claims: list[AccreditingBody], hours: float, review: CEReview) -> None:
    test = post_test(offering)
    if not test.questions:
        review.problems.append(
            "A self-paced CE program ends in a post-test: add a quiz lesson with its questions (Curriculum)."
        )
        return
    if AccreditingBody.NASW in claims:
        needed = nasw_questions(hours)
        if test.questions < needed:
            review.problems.append(
                f"NASW asks for at least {needed} post-test questions for {hours:g} hours; the quizzes have "
                f"{test.questions} (Curriculum)."
            )
        if test.true_false_share > 0.10:
            review.problems.append(
                f"NASW allows at most 10 % true/false questions; {test.true_false} of {test.questions} are "
                "(Curriculum)."
            )
        if (test.pass_percent or 0) < 80:
            review.problems.append(
                f"NASW asks for a pass mark of at least 80 %; it is {test.pass_percent} % (Curriculum)."
            )
    if AccreditingBody.APA in claims:
        if (test.pass_percent or 0) < 75:
            review.warnings.append(f"APA recommends a pass mark of at least 75 %; it is {test.pass_percent} %.")
        if test.questions < 6 * hours:
            review.warnings.append(
                f"APA recommends 6 to 8 post-test questions a credit: {math.ceil(6 * hours)} or more for "
                f"{hours:g} hours."
            )
