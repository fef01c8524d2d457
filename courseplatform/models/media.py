"""Uploaded files: video, audio, handouts, images and captions."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .base import UTCDateTime, enum_column, utcnow

if TYPE_CHECKING:
    from .accounts import User


class MediaStatus(enum.Enum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class MediaAsset(Model):
    """One stored object, owned by the user who uploaded it."""

    __tablename__ = "media_assets"
    __table_args__ = (
        sa.CheckConstraint("size_bytes >= 0", name="size_non_negative"),
        sa.Index("ix_media_assets_owner_status", "owner_id", "status"),
        sa.Index("ix_media_assets_status_created", "status", "created_at"),
        sa.CheckConstraint("ladder_percent BETWEEN 0 AND 100", name="ladder_percent_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(sa.String(512), unique=True)
    original_name: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(127), default="", server_default="")
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    status: Mapped[MediaStatus] = mapped_column(enum_column(MediaStatus, "media_status"), default=MediaStatus.PENDING)
    failure_reason: Mapped[str | None] = mapped_column(sa.String(255))
    # The multipart upload under way for this asset, kept on the server so no browser can name another.
    upload_id: Mapped[str | None] = mapped_column(sa.String(1024))
    duration_seconds: Mapped[int | None] = mapped_column()
    # What the file really is, read from it (`media.probe`) for videos and audio; None until then.
    probed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    media_container: Mapped[str | None] = mapped_column(sa.String(64))
    video_codec: Mapped[str | None] = mapped_column(sa.String(32))
    audio_codec: Mapped[str | None] = mapped_column(sa.String(32))
    width: Mapped[int | None] = mapped_column()  # as shown, a phone's rotation applied
    height: Mapped[int | None] = mapped_column()
    # The HLS ladder made from a video (`media.ladder`): "queued", "making", "ready" or "failed" (None: none
    # planned). Its files are under `renditions/<id>/`: master.m3u8, a folder per rung, poster.jpg and thumb.jpg.
    ladder_status: Mapped[str | None] = mapped_column(sa.String(16))
    ladder_percent: Mapped[int | None] = mapped_column(sa.SmallInteger)  # how far "making" has got
    ladder_error: Mapped[str | None] = mapped_column(sa.String(255))
    ladder_heights: Mapped[list | None] = mapped_column(sa.JSON)  # the rungs, by their short side: [360, 720]
    ladder_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    ladder_ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    owner: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<MediaAsset {self.id} {self.storage_key} {self.status.value}>"
