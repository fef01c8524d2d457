"""Certificates: the public page that tells anyone whether a certificate number is genuine."""

from flask import Blueprint

bp = Blueprint("certificates", __name__)

from . import views  # noqa: E402,F401
