"""Catalog: the landing page, the course list, course pages and storefronts."""

from flask import Blueprint

bp = Blueprint("catalog", __name__)

from . import practice_views, views  # noqa: E402,F401
