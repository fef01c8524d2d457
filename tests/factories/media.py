"""Media: uploaded files, and lessons that play one."""

from __future__ import annotations

import uuid

import factory

from courseplatform.extensions import db
from courseplatform.models import Lesson, LessonKind, MediaAsset, MediaStatus, utcnow

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


def probed_video(owner, name: str = "talk.mp4", **kw) -> MediaAsset:
    """A ready 720p H.264 video of `owner`'s that `media.probe` has read (its ladder as `kw` says)."""
    facts = {"probed_at": utcnow(), "media_container": "mov,mp4,m4a,3gp,3g2,mj2", "width": 1280, "height": 720}
    return media_asset(owner, name, **{**facts, "video_codec": "h264", "duration_seconds": 60, **kw})


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
