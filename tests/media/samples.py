"""Real media made with ffmpeg for the media tests: a few seconds of test pattern with a tone, a portrait
phone clip, audio-only files (.m4a, and an .mp4 with no picture), an iPhone-style HEVC .mov, a Matroska
file, a still photo and a text file renamed .mp4."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PATTERN = "-f lavfi -i testsrc2=size={size}:rate=25"
TONE = "-f lavfi -i sine=frequency=440:sample_rate=48000"
RECIPES = {
    "pattern.mp4": f"{PATTERN.format(size='640x360')} {TONE} -t 3 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest",
    "portrait.mp4": f"{PATTERN.format(size='360x640')} {TONE} -t 2 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest",
    "voice.m4a": f"{TONE} -t 3 -c:a aac",
    "soundtrack.mp4": f"{TONE} -t 3 -c:a aac -f mp4",  # sound only, in a file named and built as a video
    "iphone.mov": f"{PATTERN.format(size='640x360')} {TONE} -t 2 -c:v libx265 -x265-params log-level=error "
    "-tag:v hvc1 -c:a aac -shortest -f mov",
    "clip.mkv": f"{PATTERN.format(size='320x240')} -t 2 -c:v libx264 -pix_fmt yuv420p -f matroska",
    "photo.jpg": f"{PATTERN.format(size='640x360')} -frames:v 1",
    # A 720p recording of 13 s: two rungs (360p and 720p) of three segments each.
    "lecture.mp4": f"{PATTERN.format(size='1280x720')} {TONE} -t 13 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "
    "-c:a aac -shortest",
}


def make_samples(folder: Path) -> dict[str, Path]:
    """Every sample, made in `folder` (fails the run on CI when ffmpeg is missing, skips elsewhere)."""
    if shutil.which("ffmpeg") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ffmpeg is not installed: apt-get install ffmpeg", pytrace=False)
        pytest.skip("ffmpeg is not installed")
    made = {}
    for name, recipe in RECIPES.items():
        path = folder / name
        subprocess.run(["ffmpeg", "-v", "error", "-y", *recipe.split(), str(path)], check=True, timeout=120)
        made[name] = path
    made["notes.mp4"] = folder / "notes.mp4"
    made["notes.mp4"].write_text("Session notes, not a video at all.\n")
    made["photo.mp4"] = folder / "photo.mp4"  # a photo renamed to look like a video
    made["photo.mp4"].write_bytes(made["photo.jpg"].read_bytes())
    return made
