"""Absolute links to this site (for e-mails, calendar files, Stripe's return addresses, certificates), and origins."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import current_app

if TYPE_CHECKING:
    from .models import Offering


def absolute_url(endpoint: str, **values) -> str:
    """BASE_URL followed by the route's path: never the Host a request claims, and no request needed (cron)."""
    path = current_app.url_map.bind("").build(endpoint, values)
    return current_app.config["BASE_URL"] + path


def offering_url(offering: Offering) -> str:
    """The offering's public page (where it is seen and bought), as an absolute link."""
    return absolute_url("catalog.offering", slug=offering.slug)


def learn_url(offering: Offering) -> str:
    """Where an enrolled learner takes the offering (its outline), as an absolute link."""
    return absolute_url("learning.offering", slug=offering.slug)


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL: what a browser, CORS and a Content-Security-Policy call its origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
