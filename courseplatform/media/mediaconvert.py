"""The ladder made by AWS Elemental MediaConvert instead of this machine's ffmpeg (TRANSCODER=mediaconvert).

The same rungs, bitrates, 6-s segments and poster sizes as `FfmpegTranscoder`, asked of MediaConvert
as one job that reads the original from the bucket and writes straight back under the video's
`renditions/<id>/` folder, so no video byte passes through the worker. MediaConvert names files its
own way, side by side in that folder:

- `master.m3u8`, the main playlist, naming `master_360p.m3u8`, `master_720p.m3u8`…;
- segments `master_360p_00001.ts`…, which `streaming.py` accepts beside ffmpeg's layout;
- frame captures `frame_poster.0000000.jpg` and `frame_thumb.0000000.jpg`, copied in the bucket to
  `poster.jpg` and `thumb.jpg`.

The worker polls the job every MEDIACONVERT_POLL_SECONDS and reports its percentage. The job's id is
kept beside the ladder (`mediaconvert-job.json`) until it is collected, so a retried ladder job (after
an outage, or a worker lost) follows the MediaConvert job already running instead of paying for another.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .ladder import (
    MAX_TRANSCODE_SECONDS,
    MIN_LADDER_SIDE,
    MIN_VIDEO_RATE,
    POSTER_HEIGHT,
    RUNGS,
    SEGMENT_SECONDS,
    THUMB_HEIGHT,
    Ladder,
    LadderError,
    Progress,
    Source,
    rungs_for,
)

# The MediaConvert job making a ladder, kept beside it until the ladder is collected.
JOB_MARKER = "mediaconvert-job.json"
FRAMES = {"poster.jpg": ("_poster", POSTER_HEIGHT), "thumb.jpg": ("_thumb", THUMB_HEIGHT)}


def scaled(source: Source, short_side: int) -> tuple[int, int]:
    """A rung's width and height: its short side, the other in proportion, both even."""
    long_side = max(source.width, source.height) * short_side / min(source.width, source.height)
    long_even = max(32, round(long_side / 2) * 2)
    return (short_side, long_even) if source.height > source.width else (long_even, short_side)


def job_settings(source: Source, bucket: str, key: str, prefix: str) -> dict[str, Any]:
    """The MediaConvert job for one video: an HLS group with a rung per output, and a file group of two
    frame captures."""
    outputs = []
    for rung in rungs_for(source.width, source.height):
        video_rate, sound_rate = RUNGS.get(rung, RUNGS[360])
        if source.bitrate:
            video_rate = max(MIN_VIDEO_RATE, min(video_rate, source.bitrate - (sound_rate if source.has_sound else 0)))
        width, height = scaled(source, rung)
        output: dict[str, Any] = {
            "NameModifier": f"_{rung}p",
            "ContainerSettings": {"Container": "M3U8", "M3u8Settings": {}},
            "VideoDescription": {
                "Width": width,
                "Height": height,
                "ScalingBehavior": "STRETCH_TO_OUTPUT",  # the size is already the source's shape
                "CodecSettings": {
                    "Codec": "H_264",
                    "H264Settings": {
                        "RateControlMode": "VBR",
                        "Bitrate": video_rate,
                        "MaxBitrate": int(video_rate * 1.07),
                        "HrdBufferSize": video_rate * 2,
                        "CodecProfile": "MAIN",
                        "GopSize": float(SEGMENT_SECONDS),
                        "GopSizeUnits": "SECONDS",
                        "SceneChangeDetect": "DISABLED",  # keyframes at the segment boundaries only
                        "QualityTuningLevel": "SINGLE_PASS",
                    },
                },
            },
        }
        if source.has_sound:
            output["AudioDescriptions"] = [
                {
                    "AudioSourceName": "Audio Selector 1",
                    "CodecSettings": {
                        "Codec": "AAC",
                        "AacSettings": {"Bitrate": sound_rate, "CodingMode": "CODING_MODE_2_0", "SampleRate": 48000},
                    },
                }
            ]
        outputs.append(output)
    frames = []
    for modifier, height in FRAMES.values():
        width, height = scaled(source, height) if min(source.width, source.height) > height else (0, 0)
        description: dict[str, Any] = {
            "CodecSettings": {
                "Codec": "FRAME_CAPTURE",
                # A frame at 0 s and one at 1 s (`_collect` keeps the later one).
                "FrameCaptureSettings": {
                    "FramerateNumerator": 1,
                    "FramerateDenominator": 1,
                    "MaxCaptures": 2,
                    "Quality": 80,
                },
            }
        }
        if width:
            description.update(Width=width, Height=height)
        frames.append(
            {"NameModifier": modifier, "ContainerSettings": {"Container": "RAW"}, "VideoDescription": description}
        )
    input_settings: dict[str, Any] = {
        "FileInput": f"s3://{bucket}/{key}",
        "TimecodeSource": "ZEROBASED",
        "VideoSelector": {"Rotate": "AUTO"},  # a phone's rotation metadata applied, as ffmpeg does
    }
    if source.has_sound:
        input_settings["AudioSelectors"] = {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}}
    return {
        "TimecodeConfig": {"Source": "ZEROBASED"},
        "Inputs": [input_settings],
        "OutputGroups": [
            {
                "Name": "HLS",
                "OutputGroupSettings": {
                    "Type": "HLS_GROUP_SETTINGS",
                    "HlsGroupSettings": {
                        "Destination": f"s3://{bucket}/{prefix}master",
                        "SegmentLength": SEGMENT_SECONDS,
                        "MinSegmentLength": 0,
                        "SegmentControl": "SEGMENTED_FILES",
                        "DirectoryStructure": "SINGLE_DIRECTORY",
                        "ManifestDurationFormat": "FLOATING_POINT",
                        "OutputSelection": "MANIFESTS_AND_SEGMENTS",
                        "StreamInfResolution": "INCLUDE",
                        "CodecSpecification": "RFC_4281",
                        "ClientCache": "ENABLED",
                    },
                },
                "Outputs": outputs,
            },
            {
                "Name": "Frames",
                "OutputGroupSettings": {
                    "Type": "FILE_GROUP_SETTINGS",
                    "FileGroupSettings": {"Destination": f"s3://{bucket}/{prefix}frame"},
                },
                "Outputs": frames,
            },
        ],
    }


class MediaConvertTranscoder:
    """`Transcoder` on MediaConvert: `make_ladder` submits the job, follows it, and returns the ladder as the
    bucket holds it (`Ladder.stored_bytes`), with nothing in the local folder."""

    def __init__(self, client: Any, s3: Any, bucket: str, role: str, queue: str, poll_seconds: float) -> None:
        self.client, self.s3, self.bucket = client, s3, bucket
        self.role, self.queue, self.poll_seconds = role, queue, poll_seconds

    def make_ladder(self, source: Source, folder: Path, progress: Progress) -> Ladder:
        rungs = rungs_for(source.width, source.height)
        if not rungs:
            raise LadderError(f"the video is smaller than {MIN_LADDER_SIDE}p, so it plays as it is")
        if not (source.key and source.prefix):
            raise LadderError("MediaConvert reads the original from the bucket: it has no key there")
        job_id = self._running_job(source.prefix) or self._start(source)
        self._remember(source.prefix, job_id)
        progress(0.0)
        deadline = time.monotonic() + min(MAX_TRANSCODE_SECONDS, max(600, source.duration_seconds * 20))
        while True:
            job = self._call("get_job", Id=job_id)["Job"]
            status = job.get("Status")
            if status == "COMPLETE":
                break
            if status in ("ERROR", "CANCELED"):
                raise LadderError(f"MediaConvert: {job.get('ErrorMessage') or status.lower()}"[:200])
            if time.monotonic() > deadline:
                self._call("cancel_job", Id=job_id)
                raise LadderError("transcoding took too long")
            done = min(0.99, (job.get("JobPercentComplete") or 0) / 100)
            waited = time.monotonic() + self.poll_seconds
            while True:  # `progress` hears every second, however long the polls are apart
                progress(done)
                if time.monotonic() >= waited:
                    break
                time.sleep(min(1.0, waited - time.monotonic()))
        progress(1.0)
        ladder = self._collect(source.prefix, rungs)
        self.s3.delete_object(Bucket=self.bucket, Key=source.prefix + JOB_MARKER)
        return ladder

    def _start(self, source: Source) -> str:
        """Submit the job. botocore gives the request its own idempotency token, so its retries of this one
        call can't start two jobs."""
        request: dict[str, Any] = {
            "Role": self.role,
            "Settings": job_settings(source, self.bucket, source.key, source.prefix),
            "UserMetadata": {"aqueduct": f"{self.bucket}/{source.prefix}"},
        }
        if self.queue:
            request["Queue"] = self.queue
        return str(self._call("create_job", **request)["Job"]["Id"])

    def _running_job(self, prefix: str) -> str | None:
        """The MediaConvert job an earlier attempt of this ladder started (its id kept beside the ladder),
        when it is still running or has finished well: a retry follows it instead of paying for another."""
        try:
            kept = self.s3.get_object(Bucket=self.bucket, Key=prefix + JOB_MARKER)["Body"].read()
            job_id = str(json.loads(kept)["id"])
        except self.s3.exceptions.NoSuchKey:
            return None
        except (ValueError, KeyError, TypeError):
            return None  # not a marker this code wrote: start afresh
        try:
            status = self.client.get_job(Id=job_id)["Job"].get("Status")
        except self.client.exceptions.NotFoundException:
            return None  # an outage is raised instead: the ladder job tries again later, not a new job now
        return job_id if status in ("SUBMITTED", "PROGRESSING", "COMPLETE") else None

    def _remember(self, prefix: str, job_id: str) -> None:
        body = json.dumps({"id": job_id}).encode()
        self.s3.put_object(Bucket=self.bucket, Key=prefix + JOB_MARKER, Body=body, ContentType="application/json")

    def _collect(self, prefix: str, rungs: list[int]) -> Ladder:
        """Name the frame captures as the player asks for them, then take stock of what the job wrote."""
        sizes = self._sizes(prefix)
        for name, (modifier, _height) in FRAMES.items():
            # Captures at 0 s and 1 s: the one at 1 s is past a fade-in, when the video is that long.
            captured = [f"frame{modifier}.{n:07d}.jpg" for n in (1, 0) if f"frame{modifier}.{n:07d}.jpg" in sizes]
            if not captured:
                raise LadderError(f"MediaConvert wrote no {name}")
            self.s3.copy_object(
                Bucket=self.bucket, Key=prefix + name, CopySource={"Bucket": self.bucket, "Key": prefix + captured[0]},
                ContentType="image/jpeg", MetadataDirective="REPLACE",
            )  # fmt: skip
        sizes = self._sizes(prefix)
        expected = {"master.m3u8", *(f"master_{rung}p.m3u8" for rung in rungs)}
        missing = sorted(expected - set(sizes))
        if missing:
            raise LadderError(f"MediaConvert didn't write {', '.join(missing)}"[:200])
        return Ladder(None, rungs, sorted(Path(name) for name in sizes), stored_bytes=sum(sizes.values()))

    def _sizes(self, prefix: str) -> dict[str, int]:
        sizes = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            sizes.update({item["Key"][len(prefix) :]: item["Size"] for item in page.get("Contents", [])})
        sizes.pop(JOB_MARKER, None)
        return sizes

    def _call(self, operation: str, **params: Any) -> dict:
        """One API call; a request MediaConvert refuses (bad settings, no permission) fails the ladder, while
        anything else (throttling past botocore's retries, an outage) is raised, so the job is tried again."""
        try:
            return getattr(self.client, operation)(**params)
        except self.client.exceptions.ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") not in (400, 403, 404):
                raise
            message = error.response.get("Error", {}).get("Message") or str(error)
            raise LadderError(f"MediaConvert: {message}"[:200]) from error
