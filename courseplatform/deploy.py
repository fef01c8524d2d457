"""`flask check-deploy`: every unsafe or missing production setting, before the first request finds it.

It reads the environment (and `.env`) exactly as the application does, then judges it as production
would: the settings production refuses to start with (`production_problems`, the one list in
config.py) and what the deployment's other pieces need (the queue, storage, mail, Stripe's
webhooks, the load balancer, logs). It runs even while those settings stop the application itself
from starting: Flask finds it as a plugin command, without loading the app.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import click

from .config import PROJECT_ROOT, ConfigError, check_config, production_problems, read_config

REDIS_SCHEMES = ("redis", "rediss", "unix")
# Sender domains no receiving server will take mail from.
UNDELIVERABLE_SENDER_DOMAINS = ("test", "example", "invalid", "localhost", "local")


def deploy_problems(config: dict) -> list[str]:
    """What the processes of a production deployment (web, worker, beat) need beyond what production refuses."""
    problems = []
    if config["ENV_NAME"] != "production":
        problems.append(
            "AQUEDUCT_ENV is not 'production': none of production's checks would run and secure cookies would be "
            "off. Set AQUEDUCT_ENV=production."
        )
    redis_url = config["REDIS_URL"]
    # A missing REDIS_URL is in UNSAFE_IN_PRODUCTION twice over: rate limits and the job queue.
    if redis_url and urlsplit(redis_url).scheme.lower() not in REDIS_SCHEMES:
        problems.append(f"REDIS_URL must start with redis://, rediss:// or unix://, not {redis_url.split(':')[0]!r}.")
    if config["STORAGE_BACKEND"] == "s3" and not config["S3_BUCKET"]:
        problems.append("STORAGE_BACKEND is 's3' without S3_BUCKET: uploads would have nowhere to go. Set S3_BUCKET.")
    if config["MAIL_BACKEND"] == "smtp":
        problems.extend(_smtp_problems(config))
    if _sender_domain(config["MAIL_FROM"]).rsplit(".", 1)[-1] in UNDELIVERABLE_SENDER_DOMAINS:
        problems.append(
            f"MAIL_FROM is {config['MAIL_FROM']!r}: receiving servers refuse or bin mail from that domain. "
            "Set MAIL_FROM to an address of your own domain, e.g. 'Aqueduct <hello@your-domain>'."
        )
    if config["STRIPE_SECRET_KEY"] and not config["STRIPE_CONNECT_WEBHOOK_SECRET"]:
        problems.append(
            "STRIPE_CONNECT_WEBHOOK_SECRET is not set: Stripe's account.updated events for creators' accounts "
            "could not be verified, so no creator could ever take payments. Add the connected-accounts endpoint "
            "and set its signing secret (see Payments in the README)."
        )
    if "TRUSTED_PROXY_HOPS" not in os.environ:
        problems.append(
            "TRUSTED_PROXY_HOPS is not set: behind a load balancer every request would seem to come from it, so "
            "one visitor's failed log-ins would lock everyone out. Set it to the number of proxies in front "
            "(1 for a load balancer; 2 for a CDN in front of one), or to 0 if nothing stands in front."
        )
    # Production logs JSON lines unless LOG_FORMAT says otherwise.
    if os.environ.get("LOG_FORMAT", "").strip() and config["LOG_FORMAT"] != "json":
        problems.append(
            f"LOG_FORMAT is {config['LOG_FORMAT']!r}: log collectors can't read the request lines and their request "
            "ids. Unset LOG_FORMAT (production logs JSON lines) or set LOG_FORMAT=json."
        )
    return problems


def _smtp_problems(config: dict) -> list[str]:
    problems = []
    if not os.environ.get("SMTP_HOST", "").strip():
        problems.append("MAIL_BACKEND is 'smtp' without SMTP_HOST: mail would go to localhost. Set SMTP_HOST.")
    if not (config["SMTP_STARTTLS"] or config["SMTP_SSL"]):
        problems.append(
            "SMTP_STARTTLS and SMTP_SSL are both off: the SMTP password and every message (password-reset "
            "links included) would cross the network unencrypted. Set SMTP_STARTTLS=true (port 587) or "
            "SMTP_SSL=true (port 465)."
        )
    if bool(config["SMTP_USERNAME"]) != bool(config["SMTP_PASSWORD"]):
        problems.append("SMTP_USERNAME and SMTP_PASSWORD go together: set both, or neither for an open relay.")
    return problems


def _sender_domain(sender: str) -> str:
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return address.rsplit("@", 1)[-1].lower().rstrip(".")


def check_deploy() -> list[str]:
    """Every problem with this environment's settings for production, each saying how to fix it."""
    try:
        config = read_config(PROJECT_ROOT / "instance")
    except ConfigError as exc:
        return [str(exc)]
    problems = production_problems(config)
    try:
        check_config(config)
    except ConfigError as exc:
        problems.append(str(exc))
    return problems + deploy_problems(config)


@click.command("check-deploy")
def check_deploy_command() -> None:
    """Print every unsafe or missing production setting; exit with status 1 if there is any."""
    problems = check_deploy()
    if not problems:
        click.echo("Ready for production: every setting the web, worker and beat processes need is safe and set.")
        return
    click.echo(f"Not ready for production: {len(problems)} setting{'s' if len(problems) != 1 else ''} to fix.")
    for problem in problems:
        click.echo(f"  - {problem}")
    raise SystemExit(1)
