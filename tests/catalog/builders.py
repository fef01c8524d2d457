"""Small builders for catalog tests: topics, live sessions, media assets and waitlist entries."""

from __future__ import annotations

import itertools
from datetime import timedelta

from courseplatform.extensions import db
from courseplatform.models import LiveSession, MediaAsset, MediaStatus, Topic, WaitlistEntry, utcnow

_numbers = itertools.count(1)


def topic(name: str, slug: str | None = None) -> Topic:
    row = Topic(name=name, slug=slug or f"{name.lower().replace(' ', '-')}-{next(_numbers)}")
    db.session.add(row)
    db.session.flush()
    return row


def live_session(course, *, days: float = 7, capacity: int | None = 20, zone: str = "America/New_York", **kw):
    row = LiveSession(
        course=course,
        title=kw.pop("title", "Evening 1"),
        starts_at=kw.pop("starts_at", utcnow() + timedelta(days=days)),
        time_zone=zone,
        duration_minutes=kw.pop("duration_minutes", 90),
        capacity=capacity,
        join_url=kw.pop("join_url", "https://meet.example.com/secret-room"),
        **kw,
    )
    db.session.add(row)
    db.session.flush()
    return row


def media_asset(owner, name: str = "lesson.mp4", content_type: str = "video/mp4", **kw) -> MediaAsset:
    row = MediaAsset(
        owner=owner,
        storage_key=f"tests/{next(_numbers)}/{name}",
        original_name=name,
        content_type=content_type,
        size_bytes=kw.pop("size_bytes", 2048),
        status=kw.pop("status", MediaStatus.READY),
        **kw,
    )
    db.session.add(row)
    db.session.flush()
    return row


def waitlist_entry(course, email: str, **kw) -> WaitlistEntry:
    row = WaitlistEntry(course_id=course.id, email=email, **kw)
    db.session.add(row)
    db.session.flush()
    return row
