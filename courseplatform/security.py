"""Security headers on every response, with a Content-Security-Policy that names only the hosts this site uses."""

from __future__ import annotations

from flask import Flask, current_app

from .links import origin_of

# Where Stripe sends a learner (Checkout) or a creator (Express onboarding) after a form posts here.
STRIPE_ORIGINS = ("https://checkout.stripe.com", "https://connect.stripe.com")
# The settings the policy is built from: a change to any of them builds it again.
POLICY_SETTINGS = (
    "STORAGE_BACKEND",
    "S3_BUCKET",
    "S3_ENDPOINT_URL",
    "AWS_REGION",
    "CLOUDFRONT_DOMAIN",
    "MEDIA_ORIGIN",
    "STRIPE_SECRET_KEY",
    "STRIPE_API_BASE",
)


def content_security_policy() -> str:
    """This site's scripts and styles only; media, uploads and payment pages only on the hosts that serve them."""
    config = current_app.config
    settings = tuple(config.get(name) for name in POLICY_SETTINGS)
    cache = current_app.extensions.setdefault("aqueduct_csp", {})
    if settings not in cache:
        cache[settings] = _build_policy(config)
    return cache[settings]


def _build_policy(config) -> str:
    from .integrations.storage import storage_origins, upload_origins

    media = " ".join(storage_origins())
    # The HLS player (hls.js) fetches segments from where media is served, and plays them from a blob: URL.
    fetched = " ".join(dict.fromkeys([*upload_origins(), *storage_origins()]))
    payments = ""
    if config["STRIPE_SECRET_KEY"]:
        origins = list(STRIPE_ORIGINS)
        if config.get("STRIPE_API_BASE"):  # a Stripe stand-in (the tests' fake) serves its pages itself
            origins.append(origin_of(config["STRIPE_API_BASE"]))
        payments = " ".join(origins)
    directives = [
        "default-src 'self'",
        f"img-src 'self' data: {media}",  # data: for the stylesheets' own icons
        f"media-src 'self' blob: {media}",
        f"connect-src 'self' {fetched}",
        "style-src 'self'",
        "script-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        f"form-action 'self' {payments}",
    ]
    return "; ".join(" ".join(directive.split()) for directive in directives)


def register_security_headers(app: Flask) -> None:
    """Add the security headers to every response that doesn't set its own."""

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
