"""A fake AWS Elemental MediaConvert over HTTP on loopback, in front of moto's S3 server.

It answers the REST API botocore speaks (CreateJob `POST /2017-08-29/jobs`, GetJob and CancelJob on
`/2017-08-29/jobs/{id}`), checks each job's settings against MediaConvert's own service model as
botocore ships it (every member name, type, enum value and range, which botocore's client-side
validation doesn't), honours ClientRequestToken, and then really does the job with ffmpeg: it reads
the input from the bucket and writes the outputs back named as MediaConvert names them (`<destination
base><name modifier>.m3u8`, `…_00001.ts`, frame captures `….0000000.jpg`), reporting SUBMITTED,
PROGRESSING with a percentage, then COMPLETE, or ERROR with MediaConvert's kind of message.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from werkzeug.wrappers import Request, Response

MODEL = botocore.session.get_session().get_service_model("mediaconvert")
TOKEN_SECONDS = 60
UNREADABLE = "[Failed probe/open: [Can't read input stream: [Failed to read data: HeadObject failed]]]"


def problems(shape, value: Any, where: str = "settings") -> list[str]:
    """What in `value` (wire JSON) MediaConvert's model doesn't allow."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        names = {member.serialization.get("name", name): member for name, member in shape.members.items()}
        found = [f"{where}.{key}: not a member of {shape.name}" for key in value if key not in names]
        return found + [
            p for key, item in value.items() if key in names for p in problems(names[key], item, f"{where}.{key}")
        ]
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [p for index, item in enumerate(value) for p in problems(shape.member, item, f"{where}[{index}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        return [p for key, item in value.items() for p in problems(shape.value, item, f"{where}.{key}")]
    return _scalar_problems(shape, value, where)


def _scalar_problems(shape, value: Any, where: str) -> list[str]:
    kind = shape.type_name
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string"]
        if getattr(shape, "enum", None) and value not in shape.enum:
            return [f"{where}: {value!r} is not one of {shape.name}"]
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: expected an integer"]
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            return [f"{where}: {value} outside {low}..{high}"]
    elif kind == "double" and not isinstance(value, (int, float)):
        return [f"{where}: expected a number"]
    return []


class FakeMediaConvert:
    def __init__(self, s3_url: str) -> None:
        self.s3 = boto3.client(
            "s3", region_name="us-east-1", endpoint_url=s3_url, aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )  # fmt: skip
        self.jobs: dict[str, dict] = {}
        self.tokens: dict[str, tuple[str, float]] = {}  # request token -> (job id, when)
        self.created: list[dict] = []  # each CreateJob request as sent
        self.outage = 0  # how many of the next GetJob calls answer 500, as in a moment of outage
        self.roles_without_access: set[str] = set()  # IAM roles the bucket doesn't let read
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        parts = request.path.strip("/").split("/")
        if parts[:2] != ["2017-08-29", "jobs"]:
            response = self.error(404, "NotFoundException", "no such resource")
        elif request.method == "POST" and len(parts) == 2:
            response = self.create(json.loads(request.get_data() or b"{}"))
        elif request.method == "GET" and self.outage:
            self.outage -= 1
            response = self.error(500, "InternalServerErrorException", "Internal server error")
        elif request.method == "GET" and len(parts) == 3 and parts[2] in self.jobs:
            response = Response(json.dumps({"job": self.jobs[parts[2]]}), content_type="application/json")
        elif request.method == "DELETE" and len(parts) == 3 and parts[2] in self.jobs:
            self.jobs[parts[2]]["status"] = "CANCELED"
            response = Response("{}", 202, content_type="application/json")
        else:
            response = self.error(404, "NotFoundException", "The specified job was not found.")
        return response(environ, start_response)

    @staticmethod
    def error(status: int, code: str, message: str) -> Response:
        return Response(
            json.dumps({"message": message}), status, content_type="application/json",
            headers={"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazonaws.mediaconvert/"},
        )  # fmt: skip

    def create(self, body: dict) -> Response:
        self.created.append(body)
        if not re.fullmatch(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+", body.get("role", "")):
            return self.error(400, "BadRequestException", "/role: The IAM role ARN is not valid.")
        found = problems(MODEL.shape_for("JobSettings"), body.get("settings"))
        if found:
            return self.error(400, "BadRequestException", "; ".join(found))
        with self.lock:
            # "If you reuse a client request token within one minute of a successful request, the API returns
            # the job details of the original request."
            token = body.get("clientRequestToken")
            if token in self.tokens and time.monotonic() - self.tokens[token][1] < TOKEN_SECONDS:
                original = self.jobs[self.tokens[token][0]]
                return Response(json.dumps({"job": original}), 201, content_type="application/json")
            job_id = f"{uuid.uuid4().int % 10**13:013d}-{uuid.uuid4().hex[:6]}"
            job = {"id": job_id, "arn": f"arn:aws:mediaconvert:us-east-1:123456789012:jobs/{job_id}",
                   "role": body["role"], "settings": body["settings"], "status": "SUBMITTED",
                   "userMetadata": body.get("userMetadata", {})}  # fmt: skip
            self.jobs[job_id] = job
            if token:
                self.tokens[token] = job_id, time.monotonic()
        threading.Thread(target=self.run, args=(job,), daemon=True).start()
        return Response(json.dumps({"job": job}), 201, content_type="application/json")

    def run(self, job: dict) -> None:
        settings = job["settings"]
        source = settings["inputs"][0]["fileInput"]
        # "By default, the service does no rotation, even if your input video has rotation metadata."
        turned = (settings["inputs"][0].get("videoSelector") or {}).get("rotate") == "AUTO"
        reading = [] if turned else ["-noautorotate"]
        bucket, _, key = source.removeprefix("s3://").partition("/")
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            original = folder / "input"
            try:
                if job["role"] in self.roles_without_access:
                    raise PermissionError(job["role"])
                self.s3.download_file(bucket, key, str(original))
            except Exception:
                job.update(
                    status="ERROR", errorCode=1434, errorMessage=f"Unable to open input file [{source}]: {UNREADABLE}"
                )
                return
            job.update(status="PROGRESSING", jobPercentComplete=0)
            outputs = [(group, output) for group in settings["outputGroups"] for output in group["outputs"]]
            written: list[tuple[str, Path]] = []
            variants = []
            for index, (group, output) in enumerate(outputs):
                group_settings = group["outputGroupSettings"]
                destination = (group_settings.get("hlsGroupSettings") or group_settings["fileGroupSettings"])[
                    "destination"
                ]
                out_bucket, _, base = destination.removeprefix("s3://").partition("/")
                parent = Path(base).parent.as_posix()
                video = output["videoDescription"]
                name = Path(base).name + output.get("nameModifier", "")
                size = f"{video.get('width', 'iw')}:{video.get('height', 'ih')}"
                if video["codecSettings"]["codec"] == "FRAME_CAPTURE":
                    for n in range(video["codecSettings"]["frameCaptureSettings"]["maxCaptures"]):
                        target = folder / f"{name}.{n:07d}.jpg"
                        self.ffmpeg(
                            "-ss",
                            str(n),
                            *reading,
                            "-i",
                            str(original),
                            "-frames:v",
                            "1",
                            "-vf",
                            f"scale={size}",
                            str(target),
                        )
                        if target.exists():  # none past the end of a short video
                            written.append((f"{parent}/{target.name}", target))
                else:
                    h264 = video["codecSettings"]["h264Settings"]
                    sound = ["-an"]
                    if output.get("audioDescriptions"):
                        aac = output["audioDescriptions"][0]["codecSettings"]["aacSettings"]
                        sound = ["-c:a", "aac", "-b:a", str(aac["bitrate"])]
                    playlist = folder / f"{name}.m3u8"
                    if not self.ffmpeg(
                        *reading, "-i", str(original), "-vf", f"scale={size}",
                        "-c:v", "libx264", "-b:v", str(h264["bitrate"]), *sound,
                        "-f", "hls", "-hls_time", str(group_settings["hlsGroupSettings"]["segmentLength"]),
                        "-hls_playlist_type", "vod", "-start_number", "1",
                        "-hls_segment_filename", str(folder / f"{name}_%05d.ts"), str(playlist),
                    ):  # fmt: skip
                        job.update(status="ERROR", errorCode=1010, errorMessage="Video encoding failed")
                        return
                    variants.append(
                        (
                            h264["bitrate"],
                            video["width"],
                            video["height"],
                            playlist.name,
                            bool(output.get("audioDescriptions")),
                        )
                    )
                    for made in sorted(folder.glob(f"{name}*")):
                        written.append((f"{parent}/{made.name}", made))
                    master_key = f"{parent}/{Path(base).name}.m3u8"
                job["jobPercentComplete"] = int(100 * (index + 1) / (len(outputs) + 1))
            lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
            for rate, width, height, uri, sound in variants:
                codecs = "avc1.4d401f,mp4a.40.2" if sound else "avc1.4d401f"
                lines += [f'#EXT-X-STREAM-INF:BANDWIDTH={rate},RESOLUTION={width}x{height},CODECS="{codecs}"', uri]
            (folder / "master.m3u8").write_text("\n".join(lines) + "\n")
            written.append((master_key, folder / "master.m3u8"))
            types = {".m3u8": "application/x-mpegURL", ".ts": "video/MP2T", ".jpg": "image/jpeg"}
            for target_key, path in written:
                self.s3.upload_file(str(path), out_bucket, target_key, ExtraArgs={"ContentType": types[path.suffix]})
        job.update(status="COMPLETE", jobPercentComplete=100)

    @staticmethod
    def ffmpeg(*args: str) -> bool:
        done = subprocess.run(
            [shutil.which("ffmpeg") or "ffmpeg", "-nostdin", "-v", "error", "-y", *args],
            capture_output=True, timeout=300, check=False,
        )  # fmt: skip
        return done.returncode == 0
