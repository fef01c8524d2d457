"""A shared cache of the public pages a visitor without an account sees: home, catalog, offering, storefront,
and a therapist's practice waitlist page.

What is stored is a page rendered for nobody in particular, and only that:

- it is looked up and stored only for a GET from a browser with no session cookie, no "remember
  me" cookie and no Authorization header; anyone else gets the page rendered for them, as before;
- it is stored only when it answered 200, set no cookie and left the session untouched;
- its forms carry no CSRF token (a token is bound to one browser's session): the POSTs they send
  are checked by origin instead (`token_or_same_origin`).

Each page is stored with the data version it was rendered at. Any commit that wrote a row a
public page shows (offerings, creators, curriculum, live sessions, topics, media, seats) moves
the version on, through one SQLAlchemy session event, so the next visitor gets a fresh render.
Time changes pages too (a session starts, a held seat's checkout expires) without a write, so
an entry also lives at most PAGE_CACHE_SECONDS, which is kept well below the lifetime of the
signed media links a page may carry.

The store is Redis when PAGE_CACHE is "redis" (every web process shares it) or this process's
memory ("memory", the default without REDIS_URL), an LRU bounded in bytes whose version lives in a
file of the instance folder, so every process of one machine sees a change at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

import redis
from flask import Flask, Response, current_app, g, has_app_context, request, session
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session as OrmSession
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date, parse_cookie, parse_etags
from werkzeug.routing import Map, MapAdapter, Rule

from .integrations.redis_store import redis_client
from .links import origin_of

log = logging.getLogger(__name__)

# The pages served from the cache (the same for every visitor without an account), and the query
# arguments each one reads. An address with any other argument (a campaign's utm_source, made-up
# ones) is rendered for everyone as well, so it holds nothing personal and sets no cookie, but is
# never stored: query strings nobody links to can't fill the store or push the real pages out.
PAGE_ARGUMENTS = {
    "catalog.home": frozenset(),
    "catalog.offerings": frozenset({"q", "topic", "kind", "sort", "page"}),
    "catalog.offering": frozenset(),
    "catalog.storefront_page": frozenset({"page"}),
    "catalog.practice_waitlist": frozenset(),
}
PUBLIC_PAGES = frozenset(PAGE_ARGUMENTS)
# The tables whose rows those pages show; a commit that writes any of them outdates every stored page.
PUBLIC_TABLES = frozenset(
    {
        "courses",
        "course_topics",
        "topics",
        "sections",
        "lessons",
        "live_sessions",
        "media_assets",
        "creator_profiles",
        "enrollments",  # seats left, learners taught
        "orders",  # an open checkout holds a seat
        "provider_approvals",  # a CE program's statements
        "ce_claims",
        "referral_partners",  # on a therapist's practice waitlist page
    }
)
# Of these tables' rows, only a change of these columns alters a public page (a learner opening lessons
# or completing an offering writes enrollments all day; the seats and learners taught don't move).
FOLLOWED_COLUMNS = {"enrollments": ("status",), "orders": ("status",)}
# A page bigger than this share of the memory store is never kept (it would push out dozens of others).
LARGEST_SHARE = 8
WRITTEN = "page_cache_written"
# Set in the WSGI environ: (key, version) of a shared render, then the ETag once Flask found it storable.
ENVIRON_KEY = "aqueduct.page_cache"
ENVIRON_PAGE = "aqueduct.page_cache.etag"


@dataclass(frozen=True)
class StoredPage:
    """A stored page: the data version it was rendered at and the answer, headers included."""

    version: str
    body: bytes
    headers: list[tuple[str, str]]
    etag: str

    def encode(self) -> bytes:
        head = {"v": self.version, "h": self.headers, "e": self.etag}
        return json.dumps(head).encode() + b"\n" + self.body

    @classmethod
    def decode(cls, raw: bytes) -> StoredPage:
        head, _, body = raw.partition(b"\n")
        fields = json.loads(head)
        return cls(fields["v"], body, [tuple(pair) for pair in fields["h"]], fields["e"])


class Store(Protocol):
    def lookup(self, key: str) -> tuple[str, StoredPage | None]:
        """The current data version, and the page stored under key (of any version), in one go."""

    def keep(self, key: str, page: StoredPage, seconds: int) -> None: ...

    def bump(self) -> None:
        """Outdate every stored page."""

    def clear(self) -> None: ...


class MemoryStore:
    """This process's pages, least recently used first out, bounded in bytes; safe across threads."""

    def __init__(self, version_file: Path, max_bytes: int) -> None:
        self.version_file = version_file
        self.max_bytes = max_bytes
        self.pages: OrderedDict[str, tuple[float, StoredPage]] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()

    def version(self) -> str:
        """A random token rewritten at each change (a counter could be written back by a racing process)."""
        try:
            return self.version_file.read_text()
        except FileNotFoundError:
            return ""

    def lookup(self, key: str) -> tuple[str, StoredPage | None]:
        version = self.version()
        with self.lock:
            found = self.pages.get(key)
            if found is None:
                return version, None
            expires, page = found
            if expires <= time.monotonic():
                self._drop(key)
                return version, None
            self.pages.move_to_end(key)
            return version, page

    def keep(self, key: str, page: StoredPage, seconds: int) -> None:
        if len(page.body) > self.max_bytes // LARGEST_SHARE:
            return
        with self.lock:
            self._drop(key)
            self.pages[key] = (time.monotonic() + seconds, page)
            self.size += len(page.body)
            while self.size > self.max_bytes:
                self._drop(next(iter(self.pages)))

    def _drop(self, key: str) -> None:
        found = self.pages.pop(key, None)
        if found is not None:
            self.size -= len(found[1].body)

    def bump(self) -> None:
        self.version_file.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.version_file.with_name(f"{self.version_file.name}.{os.getpid()}.{threading.get_ident()}")
        scratch.write_text(secrets.token_hex(8))
        os.replace(scratch, self.version_file)  # readers see the old token or the new one, never half

    def clear(self) -> None:
        with self.lock:
            self.pages.clear()
            self.size = 0


class RedisStore:
    """Pages shared by every web process, each expiring on its own; the version is one counter.

    The Redis is the job queue's too, which runs `noeviction`: full, it refuses to queue jobs. Which
    addresses get stored is up to visitors (each query string is a page of its own), so the pages are
    bounded in bytes: each new page is counted in the window of PAGE_CACHE_SECONDS it was stored in,
    and a window may store half of `max_bytes`. A page lives at most one window, and replacing a
    stored page keeps the time it was given, so the pages alive at any moment are those of this
    window and the last: never more than `max_bytes`. Past it pages are rendered but not kept.
    """

    def __init__(self, url: str, prefix: str, max_bytes: int) -> None:
        self.url = url
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.version_key = f"{prefix}version"

    @property
    def client(self) -> redis.Redis:
        return redis_client(self.url)

    def lookup(self, key: str) -> tuple[str, StoredPage | None]:
        version, raw = self.client.mget(self.version_key, self.prefix + key)
        return (version or b"0").decode(), StoredPage.decode(raw) if raw else None

    def keep(self, key: str, page: StoredPage, seconds: int) -> None:
        raw = page.encode()
        if len(raw) > self.max_bytes // LARGEST_SHARE:
            return
        client = self.client
        # A newer render of a stored page takes its place within the time the page was given.
        if client.set(self.prefix + key, raw, xx=True, keepttl=True):
            return
        window = f"{self.prefix}bytes:{int(time.time() // seconds)}"
        with client.pipeline() as pipe:
            stored, _ = pipe.incrby(window, len(key) + len(raw)).expire(window, 2 * seconds).execute()
        if stored <= self.max_bytes // 2:
            client.set(self.prefix + key, raw, ex=seconds)

    def bump(self) -> None:
        self.client.incr(self.version_key)

    def clear(self) -> None:
        keys = list(self.client.scan_iter(match=self.prefix + "*", count=500))
        if keys:
            self.client.delete(*keys)


STORE_ERRORS = (redis.RedisError, OSError, ValueError, KeyError)


class PageCache:
    """The app's page cache: which store, how long a page lives; built from the settings."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._stores: dict[tuple, Store] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.app.config["PAGE_CACHE"] != "off"

    @property
    def seconds(self) -> int:
        return self.app.config["PAGE_CACHE_SECONDS"]

    @property
    def store(self) -> Store:
        """The store the settings name (built once for them: tests switch the cache on and off)."""
        config = self.app.config
        names = ("PAGE_CACHE", "REDIS_URL", "PAGE_CACHE_PREFIX", "PAGE_CACHE_MAX_BYTES")
        settings = tuple(config[name] for name in names)
        store = self._stores.get(settings)
        if store is None:
            with self._lock:
                store = self._stores.setdefault(settings, self._build(*settings))
        return store

    def _build(self, kind: str, redis_url: str, prefix: str, max_bytes: int) -> Store:
        # Two sites (or test runs) on one Redis or one instance folder keep apart by their database.
        database = hashlib.sha256(self.app.config["SQLALCHEMY_DATABASE_URI"].encode()).hexdigest()[:12]
        if kind == "redis":
            return RedisStore(redis_url, f"{prefix}:pages:{database}:", max_bytes)
        version_file = Path(self.app.instance_path) / f"page-cache-{database}.version"
        return MemoryStore(version_file, max_bytes)

    def bump(self) -> None:
        """Outdate every stored page; a store that can't be reached leaves them to expire on their own."""
        try:
            self.store.bump()
        except STORE_ERRORS as exc:
            log.warning("page cache not told of a change (pages expire within %ss): %s", self.seconds, exc)

    def clear(self) -> None:
        """Forget every stored page; a store that can't be reached keeps its pages until they expire."""
        for store in list(self._stores.values()):
            try:
                store.clear()
            except STORE_ERRORS as exc:
                log.warning("page cache unavailable, its pages expire on their own: %s", exc)


def page_cache() -> PageCache:
    return current_app.extensions["page_cache"]


# ---------------------------------------------------------------------------
# Which requests may share a page
# ---------------------------------------------------------------------------


def _carries_identity(environ: dict, config) -> bool:
    """Anything that could make this request someone's: a session, a remembered login, credentials."""
    if "HTTP_AUTHORIZATION" in environ:
        return True
    if not environ.get("HTTP_COOKIE"):
        return False
    cookies = parse_cookie(environ)
    return config["SESSION_COOKIE_NAME"] in cookies or config.get("REMEMBER_COOKIE_NAME", "remember_token") in cookies


class PageCacheMiddleware:
    """Answers a visitor without an account from the cache before Flask is involved, and keeps what
    Flask rendered for everyone.

    The hit is the whole point of the cache, so it costs a path match, a look at the cookies and
    one look-up; everything else (routing, the guard, CSRF, sessions, the database) only runs on a
    miss. A page is stored with the headers of its first answer (security headers included) and
    Flask decides whether it may be stored at all (`finish_public_page`).
    """

    def __init__(self, wsgi_app, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self._routes: MapAdapter | None = None

    def __call__(self, environ: dict, start_response):
        cache = self.app.extensions["page_cache"]
        if (
            not cache.enabled
            or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
            or _carries_identity(environ, self.app.config)
        ):
            return self.wsgi_app(environ, start_response)
        reads = self._arguments_read(environ)
        if reads is None:
            return self.wsgi_app(environ, start_response)
        query = environ.get("QUERY_STRING", "")
        key = environ.get("PATH_INFO", "") + ("?" + query if query else "")
        arguments = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
        if not arguments <= reads:
            environ[ENVIRON_KEY] = (key, "")
            return self._render(cache, environ, start_response, keep=False)
        try:
            version, page = cache.store.lookup(key)
        except STORE_ERRORS as exc:
            log.warning("page cache unavailable, rendering %s: %s", environ.get("PATH_INFO"), exc)
            return self.wsgi_app(environ, start_response)
        if page is not None and page.version == version:
            return _answer(page, environ, start_response)
        # The version is read before rendering: a page is never stored under a version newer than its data.
        environ[ENVIRON_KEY] = (key, version)
        return self._render(cache, environ, start_response)

    def _arguments_read(self, environ: dict) -> frozenset | None:
        """The query arguments of the public page this address names, or None if it names none."""
        if self._routes is None:
            url_map = self.app.url_map
            rules = [Rule(r.rule, endpoint=r.endpoint) for r in url_map.iter_rules() if r.endpoint in PUBLIC_PAGES]
            self._routes = Map(rules, converters=url_map.converters).bind("localhost")
        try:
            endpoint, _ = self._routes.match(environ.get("PATH_INFO", "/"), method="GET")
        except HTTPException:
            return None
        return PAGE_ARGUMENTS[endpoint]

    def _render(self, cache: PageCache, environ: dict, start_response, keep: bool = True):
        answer: list = []

        def held(status: str, headers: list, exc_info=None):
            answer[:] = [status, headers, exc_info]
            return lambda data: None  # Flask returns its body rather than writing it

        body = self.wsgi_app(environ, held)
        status, headers, exc_info = answer
        marked = environ.get(ENVIRON_PAGE)
        if marked is None or not status.startswith("200 ") or any(n.lower() == "set-cookie" for n, _ in headers):
            start_response(status, headers, exc_info)
            return body
        try:
            data = b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        key, version = environ[ENVIRON_KEY]
        kept = [(name, value) for name, value in headers if name.lower() != "content-length"]
        page = StoredPage(version, data, kept, marked)
        if not keep:
            return _answer(page, environ, start_response)
        try:
            cache.store.keep(key, page, cache.seconds)
        except STORE_ERRORS as exc:
            log.warning("page cache unavailable, %s not kept: %s", environ.get("PATH_INFO"), exc)
        return _answer(page, environ, start_response)


def _answer(page: StoredPage, environ: dict, start_response):
    """The stored page, or 304 when the browser already has it; nothing for HEAD."""
    offered = environ.get("HTTP_IF_NONE_MATCH")
    if offered and parse_etags(offered).contains_weak(page.etag):
        headers = [(n, v) for n, v in page.headers if n.lower() not in ("content-type", "content-length")]
        start_response("304 NOT MODIFIED", headers)
        return []
    start_response("200 OK", [*page.headers, ("Content-Length", str(len(page.body)))])
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [page.body]


def shared_render() -> bool:
    """Whether this page is being rendered for everyone (to be stored), so it must hold nothing personal."""
    return bool(g.get("page_cache_key"))


def form_meta() -> dict:
    """Form options: no CSRF token in a shared page (a token belongs to one browser's session), nor
    any to check in a POST that `token_or_same_origin` let through by its origin."""
    return {"csrf": False} if shared_render() or g.get("tokenless_form") else {}


def begin_shared_render() -> None:
    """A public page the middleware didn't have: rendered for everyone, to be stored."""
    if request.endpoint in PUBLIC_PAGES and ENVIRON_KEY in request.environ:
        g.page_cache_key = request.environ[ENVIRON_KEY][0]


def finish_public_page(response: Response) -> Response:
    """Mark a shared render storable (if it stayed impersonal); any other render of a public page private."""
    if request.endpoint not in PUBLIC_PAGES:
        return response
    storable = (
        shared_render()
        and request.method == "GET"
        and response.status_code == 200
        and not response.direct_passthrough
        and "Set-Cookie" not in response.headers
        and not session.modified
    )
    if not storable:
        response.headers.setdefault("Cache-Control", "private, no-cache")
        response.vary.add("Cookie")
        return response
    etag = hashlib.blake2b(response.get_data(), digest_size=16).hexdigest()
    response.set_etag(etag)
    response.headers["Last-Modified"] = http_date(int(time.time()))
    # Browsers may keep the page but must ask again each time (the ETag makes that a 304); the
    # answer differs once the browser has a cookie, so caches along the way key on it.
    response.headers["Cache-Control"] = "no-cache"
    response.vary.add("Cookie")
    request.environ[ENVIRON_PAGE] = etag
    return response


# ---------------------------------------------------------------------------
# Forms on shared pages
# ---------------------------------------------------------------------------


def same_origin_request() -> bool:
    """Whether the browser says this request came from one of this site's own pages.

    Sec-Fetch-Site (sent by every current browser) is trusted first, then Origin, then Referer
    (sent on a same-origin POST under this site's Referrer-Policy). Without any of them the
    request is refused: a browser page on another site can neither forge nor drop all three.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    ours = {origin_of(request.host_url), origin_of(current_app.config["BASE_URL"])}
    claimed = request.headers.get("Origin") or request.headers.get("Referer")
    if not claimed or claimed == "null":
        return False
    parts = urlsplit(claimed)
    return f"{parts.scheme}://{parts.netloc}".lower() in {origin.lower() for origin in ours}


def token_or_same_origin(view):
    """CSRF for a form a shared page carries: the session's token when there is one, else the origin.

    Logged-in visitors, and anyone who sends a token, are checked by token as everywhere else.
    A visitor without an account posting from a shared page has no token (the page was rendered
    for everyone); such a request has no login for a forged one to ride on, and a page on another
    site can't make a browser claim to be this site, so it's accepted only when the browser says
    it comes from this site's own page.
    """
    from flask_login import current_user

    from .extensions import csrf

    @wraps(view)
    def checked(*args, **kwargs):
        if current_user.is_authenticated or request.form.get("csrf_token") or request.headers.get("X-CSRFToken"):
            csrf.protect()
        elif same_origin_request():
            g.tokenless_form = True
        else:
            raise CSRFError("The form was sent from another site.")
        return view(*args, **kwargs)

    return csrf.exempt(checked)


# ---------------------------------------------------------------------------
# The data version
# ---------------------------------------------------------------------------


def _shows_on_public_pages(obj) -> bool:
    """Whether a changed row alters a public page: any change of what they show, but of a learner's
    enrollment or order only its status (a seat, a learner taught), not a lesson visit or a completion."""
    table = getattr(obj, "__tablename__", None)
    if table not in PUBLIC_TABLES:
        return False
    followed = FOLLOWED_COLUMNS.get(table)
    if followed is None:
        return True
    state = sa_inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in followed)


def _note_flushed(session: OrmSession, flush_context) -> None:
    if any(_shows_on_public_pages(obj) for obj in session.dirty) or any(
        getattr(obj, "__tablename__", None) in PUBLIC_TABLES for obj in session.new | session.deleted
    ):
        session.info[WRITTEN] = True


def _note_statement(state) -> None:
    """UPDATE, DELETE and INSERT statements sent without the unit of work (bulk writes)."""
    if state.is_update or state.is_delete or state.is_insert:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in PUBLIC_TABLES:
            state.session.info[WRITTEN] = True


def _after_commit(session: OrmSession) -> None:
    if session.info.pop(WRITTEN, False) and has_app_context():
        cache = current_app.extensions.get("page_cache")
        if cache is not None and cache.enabled:
            cache.bump()


def _after_transaction_end(session: OrmSession, transaction) -> None:
    # Only the outermost: writes made before a savepoint that rolled back still commit.
    if transaction.parent is None:
        session.info.pop(WRITTEN, None)


def watch_public_writes(session_class: type[OrmSession]) -> None:
    """Move the version on after every commit that wrote a row a public page shows."""
    listeners = (
        ("after_flush", _note_flushed),
        ("do_orm_execute", _note_statement),
        ("after_commit", _after_commit),
        ("after_transaction_end", _after_transaction_end),
    )
    for name, listener in listeners:
        if not event.contains(session_class, name, listener):
            event.listen(session_class, name, listener)


def register_page_cache(app: Flask) -> None:
    from .extensions import Session

    app.extensions["page_cache"] = PageCache(app)
    watch_public_writes(Session)
    app.before_request(begin_shared_render)
    app.after_request(finish_public_page)
    app.wsgi_app = PageCacheMiddleware(app.wsgi_app, app)
