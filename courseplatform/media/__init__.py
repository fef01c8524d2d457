"""Media: the studio's upload API, signed upload and playback links for the local backend, and upload checks."""

from flask import Blueprint

bp = Blueprint("media", __name__)

from . import uploads, views  # noqa: E402,F401
