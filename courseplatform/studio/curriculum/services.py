"""Building an offering's curriculum: sections, lessons, quizzes and live sessions.

Services change objects and `flush()`; the view commits once. Deleting never removes
files itself: it returns the storage keys that nothing uses any more, and the view
deletes them after the commit, so a failed request never loses a file it still needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage

from ...continuing_education import kept_records
from ...extensions import db
from ...formatting import zone_or_utc
from ...integrations.storage import get_storage
from ...media.services import ALLOWED, UploadError, claim_upload, release_assets, store_upload
from ...models import (
    CreatorProfile,
    Lesson,
    LessonKind,
    LiveSession,
    MediaAsset,
    MediaStatus,
    Offering,
    QuizChoice,
    QuizQuestion,
    Section,
    User,
    utcnow,
)
from ..offerings.ce_rules import ce_rules_kept

# What each kind of lesson may carry as its main file, and whether it may have captions.
FILE_CATEGORIES = {LessonKind.VIDEO: {"video", "audio"}, LessonKind.DOWNLOAD: {"document"}}
CAPTION_KINDS = {LessonKind.VIDEO}
# What a live session's replay may be.
REPLAY_CATEGORIES = {"video", "audio"}

# Everything the curriculum page shows, loaded in a fixed number of queries.
CURRICULUM_OPTIONS = (
    selectinload(Offering.sections)
    .selectinload(Section.lessons)
    .options(
        selectinload(Lesson.media_asset),
        selectinload(Lesson.captions_asset),
        selectinload(Lesson.live_session),
        selectinload(Lesson.questions),
    ),
)


class CurriculumError(ValueError):
    """A change that can't be made; the message says why in the creator's words."""


class LessonFileError(CurriculumError):
    """An upload the lesson can't take; `field` names the form field it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _renumber(items) -> None:
    for index, item in enumerate(items):
        item.position = index


def _sorted(items):
    return sorted(items, key=lambda item: (item.position, item.id or 0))


# ---------------------------------------------------------------------------
# Sections


def add_section(offering: Offering, title: str) -> Section:
    """Append a section at the end of the offering."""
    sections = _sorted(offering.sections)
    section = Section(title=title.strip(), position=len(sections))
    offering.sections.append(section)
    _renumber([*sections, section])
    db.session.flush()
    return section


def rename_section(section: Section, title: str) -> None:
    """Give a section a new title."""
    section.title = title.strip()
    db.session.flush()


def move_section(offering: Offering, section: Section, direction: str) -> None:
    """Swap a section with its neighbour above or below (the no-JavaScript reorder)."""
    sections = _sorted(offering.sections)
    index = sections.index(section)
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(sections):
        sections[index], sections[target] = sections[target], sections[index]
    _renumber(sections)
    db.session.flush()


def delete_section(offering: Offering, section: Section) -> list[str]:
    """Remove a section with its lessons; returns the storage keys no longer used by anything.

    Refused (CurriculumError) while its quizzes hold post-test attempts the offering must keep.
    """
    kept = kept_records(offering, lesson_ids=[lesson.id for lesson in section.lessons])
    if kept:
        raise CurriculumError(f"“{section.title}” can't be deleted. {kept}")
    assets = [asset for lesson in section.lessons for asset in _lesson_assets(lesson)]
    with ce_rules_kept(offering, CurriculumError):
        # Removing is deleting (delete-orphan). Deleting explicitly as well trips SQLAlchemy when the
        # cascade reaches rows not loaded yet (a quiz's choices): "Failed to add object to the flush context".
        offering.sections.remove(section)
        _renumber(_sorted(offering.sections))
        db.session.flush()
    return release_assets(assets)


# ---------------------------------------------------------------------------
# Lessons


@dataclass
class LessonChanges:
    """What the lesson form asks for, already validated."""

    title: str
    kind: LessonKind
    body: str
    is_preview: bool
    available_after_days: int
    duration_seconds: int | None
    live_session: LiveSession | None
    media_file: FileStorage | None = None
    captions_file: FileStorage | None = None
    # Files the browser already sent straight to storage (static/js/uploader.js), by asset id.
    media_asset_id: str | None = None
    captions_asset_id: str | None = None
    content_note: str = ""


def add_lesson(section: Section, changes: LessonChanges, uploader: User) -> tuple[Lesson, list[str]]:
    """Append a lesson at the end of a section, storing its files."""
    lessons = _sorted(section.lessons)
    lesson = Lesson(title="", kind=changes.kind, position=len(lessons))
    with _post_test_kept(section.offering, changes.kind is LessonKind.QUIZ) as stored:
        section.lessons.append(lesson)
        _renumber([*lessons, lesson])
        keys = _apply(lesson, changes, uploader, stored)
    return lesson, keys


def update_lesson(lesson: Lesson, changes: LessonChanges, uploader: User) -> list[str]:
    """Save the lesson form; returns the storage keys of files it replaced or dropped."""
    with _post_test_kept(lesson.section.offering, LessonKind.QUIZ in (lesson.kind, changes.kind)) as stored:
        return _apply(lesson, changes, uploader, stored)


@contextmanager
def _post_test_kept(offering: Offering, touches_a_quiz: bool):
    """The CE rules guard (`ce_rules_kept`) for lesson changes, which can break them only through a quiz.

    Yields a list for the files the change stores: refused, their bytes are removed again.
    """
    stored: list[MediaAsset] = []
    if not touches_a_quiz:
        yield stored
        return
    try:
        with ce_rules_kept(offering, CurriculumError):
            yield stored
    except LessonFileError:  # `_apply` removed its files already
        raise
    except CurriculumError:
        storage = get_storage()
        for asset in stored:  # the caller rolls back the rows; the bytes are ours to remove
            storage.delete(asset.storage_key)
        raise


def _apply(lesson: Lesson, changes: LessonChanges, uploader: User, stored: list[MediaAsset]) -> list[str]:
    """Set the fields, then store uploads (each added to `stored`). A LessonFileError leaves the caller to
    roll back."""
    lesson.title = changes.title.strip()
    lesson.kind = changes.kind
    lesson.body = changes.body or ""
    lesson.is_preview = changes.is_preview
    lesson.content_note = changes.content_note.strip()
    lesson.available_after_days = changes.available_after_days
    previous = lesson.media_asset
    lesson.duration_seconds = changes.duration_seconds
    lesson.live_session = changes.live_session if changes.kind is LessonKind.LIVE else None

    dropped: list[MediaAsset] = []
    categories = FILE_CATEGORIES.get(changes.kind, set())
    current = lesson.media_asset
    if current is not None and _category(current) not in categories:
        dropped.append(current)  # a video lesson turned into a text lesson keeps no video
        lesson.media_asset = None
    if lesson.captions_asset is not None and changes.kind not in CAPTION_KINDS:
        dropped.append(lesson.captions_asset)
        lesson.captions_asset = None

    try:
        if categories and (changes.media_asset_id or _chosen(changes.media_file)):
            asset = _file(uploader, changes.media_file, changes.media_asset_id, categories, "media_file", stored)
            if lesson.media_asset is not None and lesson.media_asset is not asset:
                dropped.append(lesson.media_asset)
            lesson.media_asset = asset
        if changes.kind in CAPTION_KINDS and (changes.captions_asset_id or _chosen(changes.captions_file)):
            asset = _file(
                uploader, changes.captions_file, changes.captions_asset_id, {"captions"}, "captions_file", stored
            )
            if lesson.captions_asset is not None and lesson.captions_asset is not asset:
                dropped.append(lesson.captions_asset)
            lesson.captions_asset = asset
    except LessonFileError:
        storage = get_storage()
        for asset in stored:  # the caller rolls back the rows; the bytes are ours to remove
            storage.delete(asset.storage_key)
        raise
    given_by_old_file = (
        previous is not None
        and lesson.media_asset is not previous
        and lesson.duration_seconds == previous.duration_seconds
    )
    if lesson.media_asset is not None and (
        lesson.duration_seconds is None or given_by_old_file
    ):  # the file's real length, when it is known: none typed, or the one the old file gave
        lesson.duration_seconds = lesson.media_asset.duration_seconds or lesson.duration_seconds
    db.session.flush()
    return release_assets(dropped)


def _chosen(upload: FileStorage | None) -> bool:
    return upload is not None and bool(upload.filename)


def _file(
    uploader: User,
    upload: FileStorage | None,
    asset_id: str | None,
    categories: set[str],
    field: str,
    stored: list[MediaAsset],
) -> MediaAsset:
    """The file for a field: one already uploaded straight to storage, or one sent with the form."""
    try:
        if asset_id:
            return claim_upload(uploader, asset_id, categories)
        asset = store_upload(uploader, upload, categories)
    except UploadError as error:
        raise LessonFileError(field, str(error)) from error
    stored.append(asset)
    return asset


def move_lesson(offering: Offering, lesson: Lesson, direction: str) -> None:
    """Move a lesson one step; past the edge of its section it joins the next or previous section."""
    sections = _sorted(offering.sections)
    section = lesson.section
    lessons = _sorted(section.lessons)
    index = lessons.index(lesson)
    step = -1 if direction == "up" else 1
    target = index + step
    if 0 <= target < len(lessons):
        lessons[index], lessons[target] = lessons[target], lessons[index]
        _renumber(lessons)
    else:
        neighbour_index = sections.index(section) + step
        if not 0 <= neighbour_index < len(sections):
            return
        neighbour = sections[neighbour_index]
        others = _sorted(neighbour.lessons)
        lessons.remove(lesson)
        section.lessons.remove(lesson)
        neighbour.lessons.append(lesson)
        _renumber(lessons)
        _renumber([*others, lesson] if direction == "up" else [lesson, *others])
    db.session.flush()


def delete_lesson(lesson: Lesson) -> list[str]:
    """Remove a lesson; returns the storage keys no longer used by anything.

    Refused (CurriculumError) while it holds post-test attempts the offering must keep.
    """
    section = lesson.section
    kept = kept_records(section.offering, lesson_ids=[lesson.id])
    if kept:
        raise CurriculumError(f"“{lesson.title}” can't be deleted. {kept}")
    assets = _lesson_assets(lesson)
    with _post_test_kept(section.offering, lesson.kind is LessonKind.QUIZ):
        section.lessons.remove(lesson)  # deleted as an orphan, with its questions (see delete_section)
        _renumber(_sorted(section.lessons))
        db.session.flush()
    return release_assets(assets)


def reorder_curriculum(offering: Offering, payload: Any) -> None:
    """Apply a drag-and-drop order: every section and lesson of this offering, each exactly once."""
    if not isinstance(payload, dict) or not isinstance(payload.get("sections"), list):
        raise CurriculumError('Send the order as {"sections": [{"id": …, "lessons": […]}]}.')
    sections = {section.id: section for section in offering.sections}
    lessons = {lesson.id: lesson for section in offering.sections for lesson in section.lessons}
    section_ids: list[int] = []
    lesson_ids: list[int] = []
    plan: list[tuple[int, list[int]]] = []
    for entry in payload["sections"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("lessons"), list):
            raise CurriculumError("Each section needs an id and a list of lesson ids.")
        ids = entry["lessons"]
        if not _all_ints([entry.get("id"), *ids]):
            raise CurriculumError("Ids must be whole numbers.")
        section_ids.append(entry["id"])
        lesson_ids.extend(ids)
        plan.append((entry["id"], ids))
    if sorted(section_ids) != sorted(sections) or sorted(lesson_ids) != sorted(lessons):
        raise CurriculumError("The order must list every section and lesson of this offering exactly once.")

    for section_index, (section_id, ids) in enumerate(plan):
        section = sections[section_id]
        section.position = section_index
        for lesson_index, lesson_id in enumerate(ids):
            lesson = lessons[lesson_id]
            lesson.section_id = section.id
            lesson.position = lesson_index
    db.session.flush()
    db.session.expire_all()


def _all_ints(values) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


# ---------------------------------------------------------------------------
# Files no longer needed


def _lesson_assets(lesson: Lesson) -> list[MediaAsset]:
    return [asset for asset in (lesson.media_asset, lesson.captions_asset) if asset is not None]


def _category(asset: MediaAsset) -> str | None:
    kind = ALLOWED.get(asset.content_type)
    return kind.category if kind else None


# ---------------------------------------------------------------------------
# Quizzes


def save_quiz_settings(lesson: Lesson, pass_percent: int, max_attempts: int | None, reveal_answers: bool) -> None:
    """Set what a learner needs to pass, how often they may try, and what they see afterwards."""
    with ce_rules_kept(lesson.section.offering, CurriculumError):
        lesson.quiz_pass_percent = pass_percent
        lesson.quiz_max_attempts = max_attempts
        lesson.quiz_reveal_answers = reveal_answers
        db.session.flush()


def save_question(
    lesson: Lesson,
    question: QuizQuestion | None,
    prompt: str,
    explanation: str,
    choices: list[tuple[str, bool]],
) -> QuizQuestion:
    """Add a question at the end of the quiz, or rewrite one, with its choices in order."""
    with ce_rules_kept(lesson.section.offering, CurriculumError):
        if question is None:
            existing = _sorted(lesson.questions)
            question = QuizQuestion(prompt="", position=len(existing))
            lesson.questions.append(question)
            _renumber([*existing, question])
        question.prompt = prompt.strip()
        question.explanation = (explanation or "").strip()
        question.choices.clear()
        db.session.flush()
        for index, (text, correct) in enumerate(choices):
            question.choices.append(QuizChoice(text=text.strip(), is_correct=correct, position=index))
        db.session.flush()
    return question


def move_question(lesson: Lesson, question: QuizQuestion, direction: str) -> None:
    """Swap a question with its neighbour."""
    questions = _sorted(lesson.questions)
    index = questions.index(question)
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(questions):
        questions[index], questions[target] = questions[target], questions[index]
    _renumber(questions)
    db.session.flush()


def delete_question(lesson: Lesson, question: QuizQuestion) -> None:
    """Remove a question and close the gap it leaves."""
    with ce_rules_kept(lesson.section.offering, CurriculumError):
        lesson.questions.remove(question)  # deleted as an orphan, with its choices (see delete_section)
        _renumber(_sorted(lesson.questions))
        db.session.flush()


# ---------------------------------------------------------------------------
# Live sessions


def local_to_utc(wall_clock: datetime, zone: str) -> datetime:
    """A wall-clock time typed in `zone` as a UTC instant, refusing times that never happen there."""
    # Skipped when clocks spring forward: refused. Repeated when they fall back: the first one (fold=0).
    tz = zone_or_utc(zone)
    naive = wall_clock.replace(tzinfo=None)
    first = naive.replace(tzinfo=tz, fold=0)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise CurriculumError(
            f"{naive:%-I:%M %p} on {naive:%b %-d} doesn't exist in {zone.replace('_', ' ')}: "
            "the clocks jump forward that night. Choose a time an hour later."
        )
    return first.astimezone(UTC)


@dataclass
class SessionChanges:
    """What the live-session form asks for, already validated."""

    title: str
    starts_local: datetime
    time_zone: str
    duration_minutes: int
    capacity: int | None
    join_url: str


def save_live_session(offering: Offering, session: LiveSession | None, changes: SessionChanges) -> LiveSession:
    """Schedule a session (or change one) after checking its start is real and still ahead."""
    starts_at = local_to_utc(changes.starts_local, changes.time_zone)
    # The form works to the minute; an unchanged minute keeps a session where it was, even in the past.
    moved = session is None or starts_at != session.starts_at.replace(second=0, microsecond=0)
    if session is not None and not moved:
        starts_at = session.starts_at
    elif starts_at <= utcnow():
        raise CurriculumError("That time has already passed. Choose a date and time in the future.")
    with ce_rules_kept(offering, CurriculumError):
        if session is None:
            session = LiveSession(offering=offering, starts_at=starts_at, time_zone=changes.time_zone)
            db.session.add(session)
        elif moved:
            session.reminder_sent_at = None  # the new time gets its own reminder
        session.title = changes.title.strip()
        session.starts_at = starts_at
        session.time_zone = changes.time_zone
        session.duration_minutes = changes.duration_minutes
        session.capacity = changes.capacity
        session.join_url = changes.join_url.strip()
        db.session.flush()
    return session


def recordings_for(offering: Offering) -> list[MediaAsset]:
    """The owner's ready video and audio files, newest first: what a session's replay can be (one query)."""
    types = [content_type for content_type, kind in ALLOWED.items() if kind.category in REPLAY_CATEGORIES]
    return list(
        db.session.scalars(
            sa.select(MediaAsset)
            .join(CreatorProfile, CreatorProfile.user_id == MediaAsset.owner_id)
            .where(
                CreatorProfile.id == offering.creator_id,
                MediaAsset.status == MediaStatus.READY,
                MediaAsset.content_type.in_(types),
            )
            .order_by(MediaAsset.created_at.desc(), MediaAsset.id.desc())
        )
    )


def set_replay(
    session: LiveSession,
    owner: User,
    asset_id: str | None = None,
    upload: FileStorage | None = None,
    uploaded_asset_id: str | None = None,
) -> MediaAsset | None:
    """Attach a recording to a session (flushed): a file just uploaded, else one chosen from the library.

    Only the owner's own ready video or audio files qualify; with none given, the replay is removed.
    The file that was the replay before stays in the library.
    """
    try:
        if uploaded_asset_id:
            asset = claim_upload(owner, uploaded_asset_id, REPLAY_CATEGORIES)
        elif _chosen(upload):
            asset = store_upload(owner, upload, REPLAY_CATEGORIES)
        elif asset_id:
            asset = claim_upload(owner, asset_id, REPLAY_CATEGORIES)
        else:
            asset = None
    except UploadError as error:
        raise CurriculumError(str(error)) from error
    session.replay_asset_id = asset.id if asset is not None else None
    db.session.flush()
    return asset


def delete_live_session(offering: Offering, session: LiveSession) -> None:
    """Cancel a session; lessons that pointed at it keep their place but lose the link.

    Refused (CurriculumError) while it holds attendance the offering must keep.
    """
    kept = kept_records(offering, session_ids=[session.id])
    if kept:
        raise CurriculumError(f"This session can't be deleted. {kept}")
    db.session.execute(sa.update(Lesson).where(Lesson.live_session_id == session.id).values(live_session_id=None))
    offering.live_sessions.remove(session)  # deleted as an orphan (see delete_section)
    db.session.flush()


def linked_lesson_counts(offering: Offering) -> dict[int, int]:
    """How many lessons point at each of the offering's live sessions, in one query."""
    rows = db.session.execute(
        sa.select(Lesson.live_session_id, sa.func.count(Lesson.id))
        .join(LiveSession, LiveSession.id == Lesson.live_session_id)
        .where(LiveSession.offering_id == offering.id)
        .group_by(Lesson.live_session_id)
    ).all()
    # The join leaves out the lessons with no session, so every id is there.
    return dict(cast(Sequence[tuple[int, int]], rows))


def session_zone(offering: Offering, viewer: User) -> str:
    """The zone times are shown and typed in: the viewer's own, or the owner's when an admin looks."""
    profile = viewer.creator_profile
    if profile is not None and profile.id == offering.creator_id:
        return viewer.time_zone
    return offering.creator.user.time_zone
