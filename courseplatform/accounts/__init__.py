"""Accounts: sign up, log in, password reset, and becoming a creator."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from . import views  # noqa: E402,F401
