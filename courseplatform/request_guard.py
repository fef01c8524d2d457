"""One gate for every request: characters no field should hold, and JSON that isn't what a view reads.

Before any view runs, the path, the query string, every form field and file name, and every
string of a JSON body are checked, and a request carrying any of these is answered 400 with
a message saying what was wrong:

- NUL and the other C0 control characters (U+0000–U+001F) and DEL. Text typed into a form
  may hold tab, line feed and carriage return (a text area's lines); a path or a query string
  may hold tab only: a line break in a link is header injection waiting for a header.
- Lone UTF-16 surrogates (U+D800–U+DFFF), which a JSON `\\ud800` escape produces: they can't
  be encoded as UTF-8, so neither PostgreSQL nor a page could hold them.

JSON is parsed strictly (the app's JSON provider): no NaN or Infinity, no number beyond
±2**53 (what every JSON reader holds exactly), no nesting deeper than MAX_JSON_DEPTH. Only
views marked `@json_body` read JSON, and theirs must be an object; any other view is sent
a form, so a JSON body there is refused rather than handed to a form class. Views that read
their body as bytes (Stripe's signed webhook, the local upload target) are marked `@raw_body`:
their path and query string are checked, their body is theirs.

A body the WSGI server can't read (a broken chunked encoding, a connection cut mid-upload)
is a 400 wherever it is read: the server's error surfaces from the first read, in a form,
JSON or raw-bytes view alike.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import NoReturn

from flask import Flask, abort, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, HTTPException

log = logging.getLogger(__name__)

MAX_JSON_DEPTH = 20
MAX_JSON_INTEGER = 2**53

# In typed text: every C0 control but tab, line feed and carriage return; DEL; lone surrogates.
TEXT_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# In a path or a query string: the same, and line breaks too.
LINK_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
RAW_BODY = "_reads_raw_body"
JSON_BODY = "_reads_json_body"


def raw_body(view: Callable) -> Callable:
    """Mark a view that reads its body as bytes: the gate checks its path and query string only."""
    setattr(view, RAW_BODY, True)
    return view


def json_body(view: Callable) -> Callable:
    """Mark a view that reads a JSON object from its body."""
    setattr(view, JSON_BODY, True)
    return view


class StrictJSONProvider(DefaultJSONProvider):
    """The app's JSON: `request.get_json()` refuses what no client of ours sends (see `strict_loads`)."""

    def loads(self, s: str | bytes, **kwargs) -> object:
        return strict_loads(s)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large")
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_JSON_INTEGER:
        raise ValueError(f"{text[:20]}… is too large")
    return value


def strict_loads(data: str | bytes) -> object:
    """JSON without NaN, Infinity, numbers beyond ±2**53 or nesting deeper than MAX_JSON_DEPTH; ValueError otherwise.

    Python's parser recurses per level and raises RecursionError long before it runs out of
    stack: that is a refusal too, as is any depth beyond MAX_JSON_DEPTH once parsed.
    """
    try:
        value = json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError("nested too deeply")
    return value


def json_depth(value: object) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def json_strings(value: object) -> Iterator[str]:
    """Every string in a parsed JSON value, object keys included."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _refuse(message: str) -> NoReturn:
    abort(400, description=message)


def _check_link() -> None:
    if LINK_FORBIDDEN.search(request.path):
        _refuse("This address holds a character no address may (a control character or a broken one).")
    for name, value in request.args.items(multi=True):
        if LINK_FORBIDDEN.search(name) or LINK_FORBIDDEN.search(value):
            _refuse("This link holds a character no link may (a control character or a broken one).")


def _check_form() -> None:
    for name, value in request.form.items(multi=True):
        if TEXT_FORBIDDEN.search(name) or TEXT_FORBIDDEN.search(value):
            _refuse("Something you typed holds a character no text may (such as NUL). Remove it and try again.")
    for name, upload in request.files.items(multi=True):
        if TEXT_FORBIDDEN.search(name) or TEXT_FORBIDDEN.search(upload.filename or ""):
            _refuse("The file's name holds a character no name may (such as NUL). Rename the file and try again.")


def _check_json(view: Callable) -> None:
    if not getattr(view, JSON_BODY, False):
        _refuse("This address takes a form, not JSON.")
    try:
        body = request.get_json()
    except BadRequest:
        _refuse(
            "The body isn't JSON this site reads: UTF-8 JSON without NaN or Infinity, with numbers up to 2^53 "
            f"and at most {MAX_JSON_DEPTH} levels deep."
        )
    if not isinstance(body, dict):
        _refuse('Send a JSON object, such as {"name": "value"}.')
    if any(TEXT_FORBIDDEN.search(text) for text in json_strings(body)):
        _refuse("The JSON holds a character no text may (such as NUL, or half of a surrogate pair).")


def guard_request() -> None:
    """Refuse the request with a 400 if its path, query, form, file names or JSON hold what no field should."""
    _check_link()
    view = current_app.view_functions.get(request.url_rule.endpoint) if request.url_rule else None
    if view is None or getattr(view, RAW_BODY, False) or request.method not in BODY_METHODS:
        return  # a 404 or 405 follows; or the body is read as bytes; or there is no body to read
    if request.is_json:
        _check_json(view)
    elif request.mimetype in FORM_TYPES:
        _check_form()


class UnreadableBody(BadRequest):
    """The request's body couldn't be read to its end."""

    description = "The request's body couldn't be read (it was cut short or badly encoded). Please try again."


class _ReadableInput:
    """`wsgi.input` whose read errors are a 400 for whichever reader meets them.

    Servers raise their own exceptions there (gunicorn's InvalidChunkSize is no OSError), so
    every exception but an HTTP one is the body's fault.
    """

    def __init__(self, stream) -> None:
        self._stream = stream

    def _read(self, method: str, *args):
        try:
            return getattr(self._stream, method)(*args)
        except HTTPException:
            raise
        except Exception as exc:
            log.warning("unreadable request body: %s: %s", type(exc).__name__, exc)
            raise UnreadableBody() from exc

    def read(self, *args) -> bytes:
        return self._read("read", *args)

    def readline(self, *args) -> bytes:
        return self._read("readline", *args)

    def readlines(self, *args) -> list[bytes]:
        return self._read("readlines", *args)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


def _readable_input(wsgi_app: Callable) -> Callable:
    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ["wsgi.input"] = _ReadableInput(environ["wsgi.input"])
        return wsgi_app(environ, start_response)

    return app


def register_request_guard(app: Flask) -> None:
    """Check every request before anything else reads it (CSRF, rate limits, the logged-in user, the view)."""
    app.json = StrictJSONProvider(app)
    app.wsgi_app = _readable_input(app.wsgi_app)
    app.before_request(guard_request)
