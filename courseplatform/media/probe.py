"""What an uploaded video or audio file really is, read from the file with the FFmpeg libraries that
PyAV's wheels carry (no FFmpeg on the system needed, nothing downloaded at run time).

The first bytes tell an MP4 from a PDF (`services.sniff_content_type`); only the file's streams
tell an H.264 video from an iPhone's HEVC one, which most browsers can't play, or give its length
and its size as shown (a phone's rotation applied). `media.probe` runs in the background after
each video or audio upload: on local storage it reads the file, on S3 a short-lived presigned link
(FFmpeg asks for the byte ranges it needs, so a long video isn't downloaded to be measured).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import av

log = logging.getLogger(__name__)

# What browsers play in an MP4 or WebM file, by FFmpeg's codec names, with the names creators know.
PLAYABLE_VIDEO = {"h264": "H.264", "vp8": "VP8", "vp9": "VP9", "av1": "AV1"}
PLAYABLE_AUDIO = {"aac": "AAC", "mp3": "MP3", "opus": "Opus", "vorbis": "Vorbis", "flac": "FLAC"}
KNOWN_CODECS = {
    **PLAYABLE_VIDEO,
    **PLAYABLE_AUDIO,
    "hevc": "HEVC (H.265)",
    "prores": "Apple ProRes",
    "mpeg4": "MPEG-4 Part 2",
    "mpeg2video": "MPEG-2",
    "mjpeg": "Motion JPEG",
    "pcm_s16le": "uncompressed PCM audio",
    "pcm_s24le": "uncompressed PCM audio",
    "alac": "Apple Lossless",
    "ac3": "Dolby Digital (AC-3)",
    "eac3": "Dolby Digital Plus",
}
# FFmpeg's readers of single pictures (a JPEG or PNG is read as one frame of "video").
STILL_FORMATS = frozenset({"image2", "jpeg_pipe", "png_pipe", "webp_pipe", "gif", "bmp_pipe", "tiff_pipe"})
# The only ways FFmpeg may read: the file itself, on disk or behind its presigned link. A crafted upload
# can't make it follow a playlist or reference to another file or host (its demuxers obey this list).
LOCAL_PROTOCOLS, REMOTE_PROTOCOLS = "file", "http,https,tcp,tls"


# And only as the container its first bytes showed (`services.sniff_content_type`): never as a playlist,
# a concatenation list or anything else FFmpeg's format guessing might choose.
DEMUXERS = {"video/mp4": "mov", "audio/mp4": "mov", "video/webm": "matroska", "audio/mpeg": "mp3"}


def allowed_protocols(source: str) -> str:
    return REMOTE_PROTOCOLS if source.startswith(("http://", "https://")) else LOCAL_PROTOCOLS


# FFmpeg's waits on a remote file (seconds): opening it, then each read.
OPEN_TIMEOUT, READ_TIMEOUT = 10.0, 30.0


class ProbeError(ValueError):
    """The file can't be read as video or audio at all; the message says so in a creator's words."""


@dataclass(frozen=True)
class MediaFacts:
    """A media file's container and streams as read from it."""

    container: str  # FFmpeg's demuxer, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration_seconds: int | None
    video_codec: str | None  # FFmpeg's codec name, e.g. "h264"; None for audio only
    audio_codec: str | None
    width: int | None  # as shown
    height: int | None

    @property
    def is_audio_only(self) -> bool:
        return self.video_codec is None


def codec_label(name: str | None) -> str:
    return KNOWN_CODECS.get(name or "", (name or "unknown").upper())


def probe(source: str, demuxer: str | None = None) -> MediaFacts:
    """Read the container and first video and audio streams of a file path or URL, as `demuxer` (e.g. "mov").

    Raises ProbeError when FFmpeg can't read it as media (a document renamed .mp4) or it holds neither
    video nor audio (a still photo).
    """
    try:
        options = {"protocol_whitelist": allowed_protocols(source)}
        with av.open(source, format=demuxer, timeout=(OPEN_TIMEOUT, READ_TIMEOUT), options=options) as container:
            video = next((s for s in container.streams.video if s.codec_context.width), None)
            audio = next(iter(container.streams.audio), None)
            if video is None and audio is None:
                raise ProbeError("it holds neither video nor sound")
            duration = _duration(container)
            still = container.format.name in STILL_FORMATS or container.format.name.endswith("_pipe")
            if audio is None and (duration is None or still):  # a photo: a picture with no length
                raise ProbeError("it is a still picture, not a video")
            width, height = _shown_size(container, video) if video is not None else (None, None)
            return MediaFacts(
                container=container.format.name[:64],
                duration_seconds=duration,
                video_codec=_codec_of(video),
                audio_codec=_codec_of(audio),
                width=width,
                height=height,
            )
    except av.error.FFmpegError as error:
        log.info("probe: FFmpeg can't read %s: %s", type(source).__name__, error)
        raise ProbeError("its content isn't a video or audio file we can read") from error


def _codec_of(stream) -> str | None:
    """The codec's own name ("mp3", "av1"), not the decoder's ("mp3float", "libdav1d")."""
    if stream is None:
        return None
    return str(stream.codec_context.codec.canonical_name)[:32]


def _duration(container) -> int | None:
    """Whole seconds, rounded; None for a file with no length (a still picture)."""
    if container.duration is not None and container.duration > 0:
        return max(1, round(container.duration / av.time_base))
    lengths = [
        float(stream.duration * stream.time_base)
        for stream in container.streams
        if stream.duration is not None and stream.time_base is not None and stream.duration > 0
    ]
    return max(1, round(max(lengths))) if lengths else None


def _shown_size(container, video) -> tuple[int, int]:
    """The picture's size as players show it: a phone records sideways and says to turn it a quarter."""
    width, height = video.codec_context.width, video.codec_context.height
    try:
        frame = next(container.decode(video=video.index))
        rotation = abs(int(getattr(frame, "rotation", 0) or 0)) % 180
    except (av.error.FFmpegError, StopIteration):
        rotation = 0
    return (height, width) if rotation == 90 else (width, height)


def playback_problem(facts: MediaFacts, name: str, category: str) -> str | None:
    """Why browsers can't play the file as it is (or None), in the words the Files page shows."""
    if category == "video" and facts.is_audio_only:
        return f"“{name}” has sound but no picture: upload it as an audio file (MP3 or M4A)."
    if facts.video_codec is not None and facts.video_codec not in PLAYABLE_VIDEO:
        return (
            f"“{name}” is {codec_label(facts.video_codec)} video, which most browsers can't play. "
            "Export it as an MP4 with H.264 video (on an iPhone: Settings → Camera → Formats → Most Compatible)."
        )
    if facts.audio_codec is not None and facts.audio_codec not in PLAYABLE_AUDIO:
        return (
            f"“{name}” has {codec_label(facts.audio_codec)} sound, which browsers can't play. "
            "Export it with AAC or MP3 sound."
        )
    return None
