"""Real processes and servers for tests that need what only they do: a WSGI server, a worker, an SMTP server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Loopback:
    """A WSGI app served by a thread of this process on a free loopback port, for a `with` block;
    HTTPS when given a (certificate, key) pair of PEM files."""

    def __init__(self, wsgi, *, threaded: bool = True, certificate: tuple[str, str] | None = None) -> None:
        from werkzeug.serving import make_server

        self.wsgi = wsgi
        self.server = make_server("127.0.0.1", 0, wsgi, threaded=threaded, ssl_context=certificate)
        self.port = self.server.server_port
        self.url = f"{'https' if certificate else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Loopback:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()


def serve(stack: ExitStack, settings: dict[str, str]) -> str:
    """One web process (gunicorn, one sync worker) with these settings, stopped at exit; its base URL."""
    port = free_port()
    env = {**os.environ, **settings, "FLASK_APP": "wsgi"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(lambda: (process.terminate(), process.wait(timeout=20)))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/healthz", timeout=2)
            return url
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError("the web process did not start")


# ---------------------------------------------------------------------------
# A slow, real SMTP server, and a fleet of processes killed group and all
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One message an SMTP server accepted: to whom, its Message-ID and subject, and when (monotonic)."""

    to: str
    message_id: str
    subject: str
    body: str
    at: float


class SlowSmtp:
    """An SMTP server on loopback that takes `delay` seconds over each message, as a provider does, and records it.

    `stop()` closes the port (senders get "connection refused", a mail server that is down);
    `start()` opens the same port again.
    """

    def __init__(self, delay: float = 0.15, port: int | None = None) -> None:
        self.delay = delay
        self.port = port or free_port()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._controller = None

    def start(self) -> SlowSmtp:
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                await asyncio.sleep(sink.delay)
                message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
                body = message.get_body(preferencelist=("plain",))
                text = body.get_content() if body is not None else ""
                with sink._lock:
                    for to in envelope.rcpt_tos:
                        sink.received.append(
                            Received(to.lower(), message["Message-ID"], message["Subject"], text, time.monotonic())
                        )
                return "250 Message accepted for delivery"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SlowSmtp:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def settings(self) -> dict[str, str]:
        return {
            "MAIL_BACKEND": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.port),
            "SMTP_STARTTLS": "false",
            "SMTP_SSL": "false",
            "SMTP_TIMEOUT": "10",
        }

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages() if m.to == address.lower()]

    def wait_for(self, count: int, timeout: float, subject: str | None = None) -> list[Received]:
        """The messages (with this subject) once there are `count` of them; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.messages() if subject is None or m.subject == subject]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} messages arrived within {timeout:.0f} s")
            time.sleep(0.1)


class Fleet:
    """Processes of one deployment (web, worker, beat), each in its own process group, all killed at exit.

    Output goes to one log file per process in `log_dir`, kept for reading when something fails.
    """

    def __init__(self, stack: ExitStack, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}
        log_dir.mkdir(parents=True, exist_ok=True)
        stack.callback(self.stop_all)

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv,
            cwd=PROJECT_ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill reaches its children too
        )
        log.close()
        self.processes[name] = process
        return process

    def web(self, name: str, workers: int = 2, timeout: int = 60, **env: str) -> str:
        """gunicorn with `workers` processes on a free port; its base URL once /healthz answers."""
        port = free_port()
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        argv = [gunicorn, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", str(timeout), "wsgi:app"]
        process = self.start(name, argv, **env)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited: {self.log(name)[-3000:]}")
            try:
                if requests.get(url + "/healthz", timeout=2).status_code == 200:
                    return url
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{name} did not start: {self.log(name)[-3000:]}")

    def worker(self, name: str, concurrency: int = 2, **env: str) -> subprocess.Popen:
        celery = str(Path(sys.executable).with_name("celery"))
        argv = [celery, "-A", "courseplatform.jobs.worker", "worker", "-n", f"{name}@%h"]
        return self.start(name, [*argv, "--concurrency", str(concurrency), "--loglevel", "INFO"], **env)

    def beat(self, name: str, schedule_file: Path, **env: str) -> subprocess.Popen:
        celery = str(Path(sys.executable).with_name("celery"))
        argv = [celery, "-A", "courseplatform.jobs.worker", "beat", "-s", str(schedule_file), "--loglevel", "INFO"]
        return self.start(name, argv, **env)

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the process group of `name` (kill -9 by default) and reap it."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        """Ask every process group to stop, then kill what is left of each."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # children a parent left behind, too
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        self.processes.clear()
