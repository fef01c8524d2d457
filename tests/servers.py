"""Real web processes for tests that need what only a WSGI server does (its own body reader, several processes)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
