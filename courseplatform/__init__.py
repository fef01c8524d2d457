"""Aqueduct: courses and workshops for therapists, and the income they bring."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from flask import Flask, g, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import PROJECT_ROOT, load_config
from .extensions import bound_request_statements, configure_sqlite, csrf, db, limiter, login_manager, migrate
from .ids import IdConverter
from .logs import RequestLog, error_summary, register_logging
from .page_cache import register_page_cache
from .request_guard import register_request_guard
from .security import register_security_headers
from .static_files import register_static_files
from .unit_of_work import register_unit_of_work

log = logging.getLogger(__name__)

QUERY_CANCELED = "57014"  # PostgreSQL's code for a statement cancelled by statement_timeout


def create_app(config: dict | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, error pages, commands."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_relative_config=True,
    )
    app.config.update(load_config(Path(app.instance_path), config))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    register_logging(app)

    # First, so hostile input is refused before CSRF, rate limits or the login manager read the request.
    register_request_guard(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_security_headers(app)
    # After the guard, limiter and security headers: a stored page is answered through all of them.
    register_page_cache(app)
    register_template_helpers(app)
    register_commands(app)
    register_jobs(app)
    register_static_files(app)
    # Last, so its after_request runs first: commit or roll back, then hand over what waited for the commit.
    register_unit_of_work(app)
    # Around everything, static files included: each request gets its id and one log line.
    app.wsgi_app = RequestLog(app.wsgi_app)
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        # Behind a load balancer, rate limits must key on the client's address, not the balancer's.
        # X-Forwarded-Host is not trusted: load balancers such as AWS's pass the client's own through.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    return app


def register_jobs(app: Flask) -> None:
    """Work a request commits (mail, jobs) is handed to the runner when the request ends (`unit_of_work`)."""
    from .jobs.queue import celery_init_app

    celery_init_app(app)


def register_extensions(app: Flask) -> None:
    from . import (
        models,  # noqa: F401  (every model registered before use)
        stats,
    )
    from .accounts.services import load_user

    stats.keep_up_to_date()

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
        elif db.engine.dialect.name == "postgresql":
            bound_request_statements(
                db.engine, app.config["STATEMENT_TIMEOUT_MS"], app.config["STUDIO_STATEMENT_TIMEOUT_MS"]
            )
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    login_manager.user_loader(load_user)
    # Both cookies carry "<user id>:<login session token>", so ending the session row ends both.
    login_manager.id_attribute = "get_login_id"


def register_blueprints(app: Flask) -> None:
    from .accounts import bp as accounts_bp
    from .admin import bp as admin_bp
    from .catalog import bp as catalog_bp
    from .certificates import bp as certificates_bp
    from .checkout import bp as checkout_bp
    from .health import bp as health_bp
    from .learning import bp as learning_bp
    from .media import bp as media_bp
    from .revenue import bp as revenue_bp
    from .studio import bp as studio_bp

    # Every `<int:...>` is a database id: one beyond its range is a 404, never a failed query.
    app.url_map.converters["int"] = IdConverter
    app.register_blueprint(catalog_bp)
    app.register_blueprint(checkout_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(studio_bp, url_prefix="/studio")
    app.register_blueprint(learning_bp, url_prefix="/learn")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(media_bp)
    app.register_blueprint(certificates_bp)
    app.register_blueprint(revenue_bp, url_prefix="/studio")
    app.register_blueprint(health_bp)


def register_errorhandlers(app: Flask) -> None:
    messages = {
        400: ("Something in that request was not right", "Please go back and try again."),
        403: ("You can't open this page", "Your account doesn't have access to it."),
        404: ("We couldn't find that page", "It may have moved, or the link may be mistyped."),
        405: ("That didn't work", "This page can't be used that way."),
        413: ("That file is too large", "Please choose a smaller file."),
        429: ("Too many attempts", "Please wait a minute and try again."),
        500: ("Something went wrong on our side", "We've been told. Please try again shortly."),
        503: ("We can't reach our records right now", "Nothing you did was lost. Please try again in a minute."),
    }

    def render_error(code: int, detail: str | None = None):
        title, text_ = messages.get(code, messages[500])
        if request.is_json or request.accept_mimetypes.best == "application/json":
            return jsonify(error=title, detail=detail or text_), code
        return render_template("errors/error.html", code=code, title=title, text=detail or text_), code

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_error(400, "This form expired or was sent from somewhere else. Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        # A description given to abort() says what was wrong with this request; Werkzeug's defaults don't.
        explained = error.description if error.description != type(error).description else None
        return render_error(error.code or 500, explained)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(error: Exception):
        """The database is down, restarting or out of connections: a friendly 503 and one log line.

        The page is rendered for an anonymous visitor, so the layout doesn't ask the database
        who is logged in (which would fail again and leave the visitor a bare error).
        """
        with contextlib.suppress(Exception):
            db.session.rollback()
        g._login_user = login_manager.anonymous_user()
        if getattr(getattr(error, "orig", None), "sqlstate", None) == QUERY_CANCELED:
            log.warning("statement timeout on %s %s", request.method, request.path)
            body, code = render_error(503, "This page took too long to put together. Please try again in a moment.")
        else:
            log.warning("database unavailable on %s %s: %s", request.method, request.path, error_summary(error))
            body, code = render_error(503)
        response = make_response(body, code)
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500)


def register_template_helpers(app: Flask) -> None:
    from . import clientfacing
    from .checkout.coupons import describe as coupon_terms
    from .checkout.coupons import last_day
    from .formatting import format_date, format_duration, format_money, format_size, plan_payment, tax_id_label
    from .media.probe import codec_label
    from .pagination import link_arguments

    app.jinja_env.globals["endpoint_exists"] = lambda name: name in app.view_functions
    app.jinja_env.globals["link_arguments"] = link_arguments
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["duration"] = format_duration
    app.jinja_env.filters["filesize"] = format_size
    app.jinja_env.filters["codec_label"] = codec_label
    app.jinja_env.filters["coupon_terms"] = coupon_terms
    app.jinja_env.filters["last_day"] = last_day
    app.jinja_env.filters["tax_id_label"] = tax_id_label
    app.jinja_env.filters["plan_payment"] = plan_payment
    app.jinja_env.globals["client_facing"] = clientfacing


def register_commands(app: Flask) -> None:
    from .cli import register

    register(app)
