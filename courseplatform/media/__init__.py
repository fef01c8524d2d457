"""Media: signed, expiring upload and playback links for the local backend, and upload checks."""

from flask import Blueprint

bp = Blueprint("media", __name__)

from . import views  # noqa: E402,F401
