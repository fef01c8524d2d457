"""Checkout: the Buy button, the test-mode checkout, the success and cancel pages, and Stripe's webhook."""

from flask import Blueprint

bp = Blueprint("checkout", __name__)

from . import views  # noqa: E402,F401
