"""Media: uploaded files, and lessons that play one."""

from __future__ import annotations

import uuid

import factory

from courseplatform.extensions import db
from courseplatform.models import Lesson, LessonKind, MediaAsset, MediaStatus

from .accounts import UserFactory
from .base import Base


class MediaAssetFactory(Base):
    class Meta:
        model = MediaAsset

    owner = factory.SubFactory(UserFactory)
    original_name = "lesson.mp4"
    storage_key = factory.LazyAttributeSequence(lambda o, n: f"tests/{n}/{o.original_name}")
    content_type = "video/mp4"
    size_bytes = 2048
    status = MediaStatus.READY


def media_asset(owner, name: str = "lesson.mp4", content_type: str = "video/mp4", **kw) -> MediaAsset:
    """A ready file of `owner`'s named `name`."""
    return MediaAssetFactory(owner=owner, original_name=name, content_type=content_type, **kw)


def with_video(lesson: Lesson, content_type: str = "video/mp4") -> Lesson:
    """Give a lesson a ready video file (the bytes are never fetched: pages only link to them)."""
    offering = lesson.section.offering
    lesson.kind = LessonKind.VIDEO
    lesson.media_asset = MediaAssetFactory(
        owner=offering.creator.user,
        storage_key=f"uploads/{uuid.uuid4().hex}/talk.mp4",
        original_name="talk.mp4",
        content_type=content_type,
        size_bytes=1000,
    )
    db.session.flush()
    return lesson
