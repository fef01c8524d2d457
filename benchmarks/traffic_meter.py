"""A WSGI meter counting, per request, the bytes that pass through the app: every request
body byte it reads and every response byte it writes. Used by `media_traffic.py` and by
tests/media/test_traffic.py to show that media goes between browsers and storage, not
through the web process.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field

from werkzeug.serving import WSGIRequestHandler

# What the app sends and receives when it only signs, checks and redirects: any other body is media,
# and so is whatever a body of these types carries beyond CONTROL_BODY_BYTES.
CONTROL_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/html", "text/plain")
CONTROL_BODY_BYTES = 64 * 1024


@dataclass
class Exchange:
    """One request the app answered, and the bytes it cost the app."""

    method: str
    path: str
    declared_in: int  # the request's Content-Length, read or not
    headers_in: int  # approximate: request line and headers
    body_in: int = 0
    status: str = ""
    request_type: str = ""
    response_type: str = ""
    headers_out: int = 0
    body_out: int = 0
    body_kind: str = ""  # the type of the iterable the app answered with
    # While tracemalloc traces: traced memory when the app got the request, and its peak from then
    # until the app's body ran out. (werkzeug's development server then drains the socket with a
    # 10 MB read, which has nothing to do with the app: the window leaves it out, also the drain
    # of the request before, since the server answers one request at a time.)
    traced_start: int | None = None
    traced_peak: int | None = None
    # Set once the server has closed the app's body. The client can hold the last byte before the
    # server thread gets there, so whoever reads the peak waits for this first.
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def traced_growth(self) -> int | None:
        if self.traced_start is None or self.traced_peak is None:
            return None
        return self.traced_peak - self.traced_start

    @property
    def bytes_in(self) -> int:
        return self.headers_in + max(self.body_in, self.declared_in)

    @property
    def bytes_out(self) -> int:
        return self.headers_out + self.body_out

    @property
    def total(self) -> int:
        return self.bytes_in + self.bytes_out

    @property
    def media_bytes(self) -> int:
        """Body bytes that can't be the app talking about files (JSON, forms, pages, redirects)."""
        return _media_part(max(self.body_in, self.declared_in), self.request_type) + _media_part(
            self.body_out, self.response_type
        )


def _media_part(size: int, content_type: str) -> int:
    if content_type.startswith(CONTROL_TYPES):
        return max(0, size - CONTROL_BODY_BYTES)
    return size


class _CountingInput:
    """Wraps `wsgi.input`, adding every byte the app reads to its exchange."""

    def __init__(self, stream, exchange: Exchange) -> None:
        self._stream = stream
        self._exchange = exchange

    def _count(self, data: bytes) -> bytes:
        self._exchange.body_in += len(data)
        return data

    def read(self, *args) -> bytes:
        return self._count(self._stream.read(*args))

    def read1(self, *args) -> bytes:
        return self._count(self._stream.read1(*args))

    def readline(self, *args) -> bytes:
        return self._count(self._stream.readline(*args))

    def readlines(self, *args) -> list[bytes]:
        return [self._count(line) for line in self._stream.readlines(*args)]

    def readinto(self, buffer) -> int | None:
        size = self._stream.readinto(buffer)
        self._exchange.body_in += size or 0
        return size

    def __iter__(self):
        return (self._count(line) for line in self._stream)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class _CountingBody:
    """Wraps the app's response iterable, counting what it yields and passing `close` on."""

    def __init__(self, body, exchange: Exchange) -> None:
        self._body = body
        self._exchange = exchange

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._exchange.body_out += len(chunk)
            yield chunk
        if tracemalloc.is_tracing():
            self._exchange.traced_peak = tracemalloc.get_traced_memory()[1]

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._exchange.finished.set()


class TrafficMeter:
    """WSGI middleware recording, per request, the bytes that passed through the app."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        headers_in = len(environ.get("REQUEST_METHOD", "")) + len(environ.get("PATH_INFO", ""))
        headers_in += len(environ.get("QUERY_STRING", "")) + 12
        for key, value in environ.items():
            if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                headers_in += len(key) + len(str(value)) + 4
        exchange = Exchange(
            method=environ["REQUEST_METHOD"],
            path=environ.get("PATH_INFO", ""),
            declared_in=int(environ.get("CONTENT_LENGTH") or 0),
            headers_in=headers_in,
            request_type=environ.get("CONTENT_TYPE", ""),
        )
        with self._lock:
            self.exchanges.append(exchange)
        if tracemalloc.is_tracing():
            tracemalloc.reset_peak()
            exchange.traced_start = tracemalloc.get_traced_memory()[0]
        environ["wsgi.input"] = _CountingInput(environ["wsgi.input"], exchange)

        def counting_start_response(status, headers, exc_info=None):
            exchange.status = status
            exchange.response_type = next((v for k, v in headers if k.lower() == "content-type"), "")
            exchange.headers_out = len(status) + 11 + sum(len(k) + len(v) + 4 for k, v in headers)
            write = start_response(status, headers, exc_info)

            def counting_write(data: bytes):
                exchange.body_out += len(data)
                return write(data)

            return counting_write

        body = self.wsgi_app(environ, counting_start_response)
        exchange.body_kind = type(body).__name__
        return _CountingBody(body, exchange)

    def reset(self) -> None:
        with self._lock:
            self.exchanges.clear()

    @property
    def total(self) -> int:
        return sum(exchange.total for exchange in self.exchanges)

    def describe(self) -> str:
        return "\n".join(
            f"{e.method} {e.path[:60]} {e.status}: in {e.body_in}/{e.declared_in} B, out {e.body_out} B"
            for e in self.exchanges
        )


class QuietHandler(WSGIRequestHandler):
    def log(self, *args, **kwargs) -> None:
        pass
