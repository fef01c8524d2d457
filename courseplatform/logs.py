"""Logs: one line per request and every application record, as JSON lines (production) or text, on stdout.

Each request gets an id: the caller's `X-Request-ID` when it is a sane token, a new one otherwise.
It is returned in the `X-Request-ID` response header, written on the request's own line, and added
to every record logged while the request runs, so one id finds everything a request did across the
load balancer, the web process and the database's slow-query log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler
from werkzeug.wsgi import ClosingIterator

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_KEY = "aqueduct.request_id"
LOGGED_PATH_KEY = "aqueduct.logged_path"
USER_ID_KEY = "aqueduct.user_id"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The fields of a request's own line, in the order they are written.
REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "request_id", "user_id", "remote_addr")
# Credentials that must never reach a log, whatever message carries them: `token=…` and its kin in
# a query string or form, and Stripe's keys and signing secrets.
SECRETS = re.compile(
    r"(?i)\b((?:[a-z_]*token|password|passwd|secret|signature|api_key|code)=)[^&\s\"']+"
    r"|\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]+|\bwhsec_[A-Za-z0-9]+"
)
REDACTED = "[redacted]"

requests_log = logging.getLogger("courseplatform.requests")


def redact(text: str) -> str:
    """TEXT with every credential-looking value replaced by [redacted]."""
    return SECRETS.sub(lambda match: (match[1] or "") + REDACTED, text)


EMAIL_ADDRESS = re.compile(r"[^\s@'\"<>(){}\[\],;:]+@[^\s@'\"<>(){}\[\],;:]+\.[A-Za-z]{2,}")


def error_summary(exc: BaseException) -> str:
    """`Type: first line` of an error, for a log or an operator's page: no e-mail address, no database values.

    A database error's first line names the constraint; the DETAIL line after it quotes the row's
    values (`Key (email)=(…)`), and SQLAlchemy appends the statement and its parameters: both go.
    """
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return redact(EMAIL_ADDRESS.sub("[address]", f"{type(exc).__name__}: {first_line}"))[:2000]


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside a request."""
    if has_request_context():
        return request.environ.get(REQUEST_ID_KEY)
    return None


class RequestLog:
    """WSGI middleware: gives each request its id and writes its line once the response is sent.

    It wraps everything, static files included, so every request has exactly one line.
    """

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        offered = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = offered if SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        environ[REQUEST_ID_KEY] = request_id
        started = time.perf_counter()
        status: list[int] = []

        def start_with_id(status_line, headers, exc_info=None):
            status[:] = [int(status_line.split(" ", 1)[0])]
            headers = [(name, value) for name, value in headers if name.lower() != "x-request-id"]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status_line, headers, exc_info)

        try:
            body = self.wsgi_app(environ, start_with_id)
        except BaseException:
            self.log(environ, 500, started)
            raise
        return _when_closed(body, lambda: self.log(environ, status[0] if status else 500, started))

    @staticmethod
    def log(environ, status: int, started: float) -> None:
        # The path only: a query string may carry a token, and the route's own tokens are taken out.
        path = environ.get(LOGGED_PATH_KEY) or (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
        fields = {
            "method": environ.get("REQUEST_METHOD", ""),
            "path": redact(path),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "request_id": environ.get(REQUEST_ID_KEY),
            "user_id": environ.get(USER_ID_KEY),
            "remote_addr": environ.get("REMOTE_ADDR"),
        }
        requests_log.info(
            "%s %s %s %.1f ms", fields["method"], fields["path"], status, fields["duration_ms"], extra=fields
        )


def _when_closed(body, write_line):
    """BODY itself when it can carry a close hook, so servers still see their file wrapper (and
    use sendfile); otherwise BODY wrapped. Servers close every body once it is sent, or abandoned."""
    written = []

    def write_once() -> None:
        if not written:
            written.append(True)
            write_line()

    close = getattr(body, "close", None)
    if close is not None:

        def close_then_write() -> None:
            try:
                close()
            finally:
                write_once()

        try:
            body.close = close_then_write
        except (AttributeError, TypeError):  # a generator's attributes are read-only
            pass
        else:
            return body
    return ClosingIterator(body, write_once)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the request's fields and id, any exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for field in REQUEST_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A line for people: time, level, logger, the request id when there is one, the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or current_request_id()
        record.request_tag = f" [{request_id}]" if request_id else ""
        return redact(super().format(record))


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time, so a replaced stdout (a test's capture) receives it."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


def _not_the_dev_servers_request_line(record: logging.LogRecord) -> bool:
    # The development server logs each request too (query string included): ours is the one line.
    return not (record.name == "werkzeug" and isinstance(record.msg, str) and " - - [" in record.msg)


def install_log_handler(log_format: str) -> logging.Handler:
    """Send every record at INFO and above to stdout in LOG_FORMAT, replacing the handler installed before."""
    root = logging.getLogger()
    remove_log_handler()
    handler = StdoutHandler()
    handler.set_name("aqueduct")
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_not_the_dev_servers_request_line)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handler


def remove_log_handler() -> None:
    """Take away the handler install_log_handler put on the root logger, if any."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "aqueduct"]:
        root.removeHandler(handler)


def register_logging(app: Flask) -> None:
    """Log as LOG_FORMAT says, and note on each request what its line may say: who, and the path without tokens.

    Tests that keep the text format leave logging to pytest, which captures every record.
    """
    if not (app.testing and app.config["LOG_FORMAT"] == "text"):
        install_log_handler(app.config["LOG_FORMAT"])
        app.logger.removeHandler(default_handler)

    @app.teardown_request
    def note_request_for_its_log_line(exc=None):
        environ = request.environ
        # Only a user this request already loaded: the log line never costs a query.
        user = g.get("_login_user")
        if user is not None and getattr(user, "is_authenticated", False):
            environ[USER_ID_KEY] = user.id
        path = request.path
        for name, value in (request.view_args or {}).items():
            if "token" in name and isinstance(value, str) and value:
                path = path.replace(value, REDACTED)
        # A request that didn't reach its route (a wrong method, a link with a slash added by a mail
        # client) has no view_args: what follows a token route's fixed part is taken out all the same.
        environ[LOGGED_PATH_KEY] = _token_routes(app).sub(r"\1" + REDACTED, path)


def _token_routes(app: Flask) -> re.Pattern:
    """One pattern for every route with a token in its path: its fixed part, then the segment to hide."""
    pattern = app.extensions.get("aqueduct.token_routes")
    if pattern is None:
        prefixes = set()
        for rule in app.url_map.iter_rules():
            fixed, _, rest = rule.rule.partition("<")
            if rest and "token" in rest.split(">", 1)[0]:
                prefixes.add(re.escape(fixed))
        alternatives = "|".join(sorted(prefixes, key=len, reverse=True)) or "(?!)"
        pattern = re.compile(rf"^({alternatives})[^/]+")
        app.extensions["aqueduct.token_routes"] = pattern
    return pattern
