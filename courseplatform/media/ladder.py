"""The HLS ladder of a video: renditions at 360p, 720p and the source's own size up to 1080p (H.264 with AAC
sound, segments of about 6 s, keyframes aligned across rungs so a player can switch), a master playlist
naming them, a poster (720p) and a thumbnail (180p), all under `renditions/<asset id>/` on the asset's
own storage backend.

`media.ladder` runs after a video's probe found it playable. The original keeps playing until the
ladder is ready, and stays. The work is done by a `Transcoder`; `FfmpegTranscoder`, the default, runs
the ffmpeg of the system or, where there is none, the one `imageio-ffmpeg`'s wheel carries
(`mediaconvert.py` has AWS Elemental MediaConvert do it instead, TRANSCODER=mediaconvert). A
transcoder reports how far it has got every second or so; the job records it for the Files page
and renews its lease with it (`jobs.Heartbeat`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from flask import current_app

from .probe import allowed_protocols

# The rungs by their short side (a portrait clip's width), with their video and sound bitrates.
RUNGS = {360: (800_000, 96_000), 720: (2_800_000, 128_000), 1080: (5_000_000, 128_000)}
SEGMENT_SECONDS = 6
MIN_VIDEO_RATE = 150_000
# Below this short side a video gets no ladder: it is already as small as a stream would be.
MIN_LADDER_SIDE = 144
# However long a file says it is, one transcode may run this long at most.
MAX_TRANSCODE_SECONDS = 6 * 3600
POSTER_HEIGHT, THUMB_HEIGHT = 720, 180
CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t", ".jpg": "image/jpeg"}


class LadderError(Exception):
    """The video couldn't be transcoded; the message is short enough for the Files page."""


@dataclass(frozen=True)
class Source:
    """What the transcoder needs to know of a probed video."""

    location: str  # a path, or a short-lived link
    width: int  # as shown
    height: int
    duration_seconds: int
    has_sound: bool
    demuxer: str | None = None  # the container to read it as (`probe.DEMUXERS`), never a guess
    bitrate: int | None = None  # the whole file's bits a second: no rung is given more than the source has
    key: str = ""  # the original's storage key, and the folder its ladder goes in (for a transcoder that
    prefix: str = ""  # reads and writes the bucket itself)


@dataclass(frozen=True)
class Ladder:
    """A finished ladder: its rungs, and every file with its path relative to the folder it is in, a local
    one to be stored, or (`stored_bytes` given, `folder` None) the storage folder it was written to."""

    folder: Path | None
    heights: list[int]
    files: list[Path]
    stored_bytes: int | None = None


# Told how far a transcode has got, from 0 to 1, every second or so.
Progress = Callable[[float], None]


class Transcoder(Protocol):
    def make_ladder(self, source: Source, folder: Path, progress: Progress) -> Ladder: ...


def rungs_for(width: int, height: int) -> list[int]:
    """The rungs a video of this size gets: each standard one up to its short side, or its own if smaller;
    none below MIN_LADDER_SIDE."""
    short = min(width, height)
    if short < MIN_LADDER_SIDE:
        return []
    rungs = [rung for rung in RUNGS if rung <= short]
    return rungs or [short - short % 2]


def ffmpeg_binary() -> str:
    """FFMPEG_BINARY, else the system's ffmpeg, else the one in imageio-ffmpeg's wheel (no download)."""
    configured = current_app.config.get("FFMPEG_BINARY") or ""
    if configured:
        return configured
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


class FfmpegTranscoder:
    """The ladder made by one ffmpeg run (every rung from one decode), then the poster and thumbnail."""

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def make_ladder(self, source: Source, folder: Path, progress: Progress) -> Ladder:
        rungs = rungs_for(source.width, source.height)
        if not rungs:
            raise LadderError(f"the video is smaller than {MIN_LADDER_SIDE}p, so it plays as it is")
        portrait = source.height > source.width
        scaled = []
        for index, rung in enumerate(rungs):
            size = f"{rung}:-2" if portrait else f"-2:{rung}"
            scaled.append(f"[v{index}]scale={size}:flags=bicubic,setsar=1[out{index}]")
        graph = f"[0:v]split={len(rungs)}" + "".join(f"[v{i}]" for i in range(len(rungs))) + ";" + ";".join(scaled)
        args = [self.binary, "-nostdin", "-nostats", "-v", "error", "-y", *self._reading(source)]
        args += ["-filter_complex", graph, "-progress", "pipe:1", "-stats_period", "1"]
        streams = []
        for index, rung in enumerate(rungs):
            video_rate, sound_rate = RUNGS.get(rung, RUNGS[360])
            if source.bitrate:  # a copy never needs more bits than the original spent, sound included
                sound = sound_rate if source.has_sound else 0
                video_rate = max(MIN_VIDEO_RATE, min(video_rate, source.bitrate - sound))
            args += ["-map", f"[out{index}]"]
            args += [
                f"-c:v:{index}", "libx264", f"-b:v:{index}", str(video_rate),
                f"-maxrate:v:{index}", str(int(video_rate * 1.07)), f"-bufsize:v:{index}", str(video_rate * 2),
            ]  # fmt: skip
            if source.has_sound:
                args += ["-map", "0:a:0", f"-c:a:{index}", "aac", f"-b:a:{index}", str(sound_rate), "-ac", "2"]
                streams.append(f"v:{index},a:{index},name:{rung}p")
            else:
                streams.append(f"v:{index},name:{rung}p")
        args += [
            "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p",
            "-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})", "-sc_threshold", "0",
            "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
            "-hls_flags", "independent_segments", "-hls_segment_type", "mpegts",
            "-hls_segment_filename", str(folder / "%v" / "seg_%03d.ts"),
            "-master_pl_name", "master.m3u8", "-var_stream_map", " ".join(streams),
            str(folder / "%v" / "index.m3u8"),
        ]  # fmt: skip
        progress(0.0)
        timeout = min(MAX_TRANSCODE_SECONDS, max(600, source.duration_seconds * 20))
        self._run(args, timeout, progress, duration=source.duration_seconds)
        progress(1.0)
        at = min(1.0, source.duration_seconds / 2)
        for name, height in (("poster.jpg", POSTER_HEIGHT), ("thumb.jpg", THUMB_HEIGHT)):
            size = f"{height}:-2" if portrait else f"-2:{height}"
            self._run(
                [self.binary, "-nostdin", "-v", "error", "-y", "-ss", f"{at:.2f}", *self._reading(source),
                 "-frames:v", "1", "-vf", f"scale={size}", "-q:v", "3", str(folder / name)],
                120, progress,
            )  # fmt: skip
        files = sorted(path.relative_to(folder) for path in folder.rglob("*") if path.is_file())
        expected = {Path("master.m3u8"), Path("poster.jpg"), Path("thumb.jpg")}
        expected |= {Path(f"{rung}p") / "index.m3u8" for rung in rungs}
        missing = sorted(str(name) for name in expected - set(files))
        if missing:
            raise LadderError(f"ffmpeg didn't write {', '.join(missing)}"[:200])
        return Ladder(folder, rungs, files)

    @staticmethod
    def _reading(source: Source) -> list[str]:
        """The input, read only as the file itself (see `probe.allowed_protocols`)."""
        container = ["-f", source.demuxer] if source.demuxer else []
        return ["-protocol_whitelist", allowed_protocols(source.location), *container, "-i", source.location]

    def _run(self, args: list[str], timeout: int, progress: Progress, duration: int | None = None) -> None:
        """Run ffmpeg to its end, killed after `timeout` s. With `duration`, its `-progress` lines are read
        as the share of the video done; either way `progress` hears every second, so a quiet step (a
        poster, an input that stalls) still keeps the job's lease. Whatever `progress` raises stops ffmpeg."""
        done = 0.0 if duration else 1.0
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errors:
            try:
                # A list of arguments, no shell: the source is a path or a link we made, the rest our own options.
                process = subprocess.Popen(  # noqa: S603
                    args, stdout=subprocess.PIPE if duration else subprocess.DEVNULL, stderr=errors, text=True,
                    start_new_session=True,  # its own process group: stopping it stops whatever it started
                )  # fmt: skip
            except OSError as exc:
                raise LadderError("ffmpeg couldn't be started") from exc
            lines: queue.Queue[str | None] = queue.Queue()
            if duration and process.stdout is not None:
                threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
            deadline = time.monotonic() + timeout
            closed = not duration  # its output read to the end (nothing to read when not followed)
            with process:
                try:
                    while not (closed and process.poll() is not None):
                        if not closed:
                            try:
                                line = lines.get(timeout=1)
                            except queue.Empty:
                                line = ""
                            if line is None:
                                closed = True
                            else:
                                done = max(done, _share(line, duration or 1))
                        else:
                            with contextlib.suppress(subprocess.TimeoutExpired):
                                process.wait(timeout=1)
                        if time.monotonic() > deadline:
                            _stop(process)
                            raise LadderError("transcoding took too long")
                        progress(done)
                finally:
                    _stop(process)
            if process.returncode != 0:
                errors.seek(0)
                last = (errors.read().strip().splitlines() or ["ffmpeg failed"])[-1]
                raise LadderError(f"ffmpeg: {last}"[:200])


def _stop(process: subprocess.Popen) -> None:
    """Kill ffmpeg's process group (an FFMPEG_BINARY wrapper's children too), unless it has ended."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Hand ffmpeg's output over line by line, then None when it closes (or is closed under it, once
    ffmpeg has been stopped)."""
    try:
        for line in stream:
            lines.put(line)
    except (OSError, ValueError):
        pass
    lines.put(None)


def _share(line: str, duration_seconds: int) -> float:
    """The share of the video done that a `-progress` line (`out_time_us=…`) tells, else 0."""
    key, _, value = line.strip().partition("=")
    if key == "out_time_us" and value.isdigit():
        return min(1.0, int(value) / 1_000_000 / max(1, duration_seconds))
    return 0.0


def transcoder() -> Transcoder:
    """TRANSCODER's: this machine's ffmpeg (the default), or AWS Elemental MediaConvert."""
    config = current_app.config
    if config["TRANSCODER"] == "mediaconvert":
        from ..integrations.storage import S3Storage, get_storage, mediaconvert_client
        from .mediaconvert import MediaConvertTranscoder

        storage = get_storage()
        if not isinstance(storage, S3Storage):
            raise LadderError("MediaConvert needs the S3 storage backend")
        return MediaConvertTranscoder(
            mediaconvert_client(config["MEDIACONVERT_ENDPOINT_URL"]),
            storage.client,
            storage.bucket,
            config["MEDIACONVERT_ROLE_ARN"],
            config["MEDIACONVERT_QUEUE"],
            config["MEDIACONVERT_POLL_SECONDS"],
        )
    return FfmpegTranscoder(ffmpeg_binary())


def workspace() -> tempfile.TemporaryDirectory:
    """A scratch folder for one ladder, removed afterwards."""
    return tempfile.TemporaryDirectory(prefix="aqueduct-ladder-")
