"""Static files: fingerprinted, compressed and served by WhiteNoise with far-future cache headers.

At start the application copies `static/` into STATIC_BUILD_DIR (under the instance folder by
default) with the first 12 hex digits of each file's SHA-256 in its name (`css/app.css` becomes
`css/app.3f2a9c1b4d5e.css`), beside gzip (and brotli, when the `brotli` package is installed)
versions. Stylesheets' `url(...)` and `@import` references are rewritten to the fingerprinted
names first, so a changed image changes the stylesheet's name too. `url_for('static', ...)`
then gives the fingerprinted address, which WhiteNoise serves as immutable for a year.

A file's name depends only on its bytes, so web processes building at once write the same
files (each written whole, then renamed into place) and a new release leaves the old names in
place for pages still open. An address without a fingerprint, or with an old one, still works:
the current file is sent with a one-minute cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import re
import tempfile
from pathlib import Path

import click
from flask import Flask, current_app, g, send_from_directory
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

HASH_LENGTH = 12
FINGERPRINTED = re.compile(rf"^(?P<stem>.+)\.[0-9a-f]{{{HASH_LENGTH}}}(?P<suffix>\.[^./]+)$")
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
# An address without a fingerprint (or an outdated one) may change at the next release.
UNFINGERPRINTED_MAX_AGE = 60
CSS_REFERENCE = re.compile(
    r"""(?P<open>url\(\s*(?P<q1>['"]?))(?P<url1>[^'")\s]+)(?P=q1)\s*\)|(?P<import>@import\s+(?P<q2>['"]))(?P<url2>[^'"]+)(?P=q2)"""
)


class StaticBuild:
    """The fingerprinted copy of one source folder: which name each file is served under."""

    def __init__(self, source: Path, target: Path) -> None:
        self.source = source
        self.target = target
        self.manifest: dict[str, str] = {}
        self.signature: tuple = ()
        self.compressor = Compressor(quiet=True)

    def source_signature(self) -> tuple:
        """What changes whenever a source file is added, removed or edited (names, sizes, times)."""
        entries = []
        for path in sorted(self._source_files()):
            stat = path.stat()
            entries.append((str(path), stat.st_size, stat.st_mtime_ns))
        return (str(self.source), *entries)

    def build(self) -> dict[str, str]:
        """Write every source file's fingerprinted copy (and its compressed versions) that is missing."""
        signature = self.source_signature()
        contents = {path.relative_to(self.source).as_posix(): path.read_bytes() for path in self._source_files()}
        manifest: dict[str, str] = {}
        for name in sorted(contents, key=lambda name: name.endswith(".css")):
            self._fingerprint(name, contents, manifest, seen=set())
        self.manifest = manifest
        self.signature = signature
        # Beside the served folder, not in it: static/manifest.json stays free for a file of that name.
        manifest_path = self.target.with_name(self.target.name + ".manifest.json")
        self._write_if_changed(manifest_path, json.dumps(manifest, indent=1, sort_keys=True).encode())
        return manifest

    def _fingerprint(self, name: str, contents: dict[str, bytes], manifest: dict[str, str], seen: set) -> None:
        if name in manifest or name in seen:
            return
        seen.add(name)
        data = contents[name]
        if name.endswith(".css"):
            data = self._rewrite_css(name, data.decode("utf-8"), contents, manifest, seen).encode("utf-8")
        stem, dot, suffix = posixpath.basename(name).rpartition(".")
        digest = hashlib.sha256(data).hexdigest()[:HASH_LENGTH]
        base = f"{stem}.{digest}.{suffix}" if dot and stem else f"{suffix}.{digest}"
        hashed = posixpath.join(posixpath.dirname(name), base)
        manifest[name] = hashed
        self._write_once(hashed, data)

    def _rewrite_css(self, name: str, css: str, contents: dict, manifest: dict, seen: set) -> str:
        folder = posixpath.dirname(name)

        def replace(match: re.Match) -> str:
            url = match["url1"] or match["url2"]
            if url.startswith(("data:", "http:", "https:", "//", "#", "/")):
                return match[0]
            path = re.split(r"[?#]", url, maxsplit=1)[0]
            target = posixpath.normpath(posixpath.join(folder, path))
            if target not in contents:
                return match[0]  # left as written: it still resolves against the unfingerprinted name
            self._fingerprint(target, contents, manifest, seen)
            if target not in manifest:  # a stylesheet importing itself, however indirectly
                return match[0]
            new = posixpath.relpath(manifest[target], folder or ".") + url[len(path) :]
            return match[0].replace(url, new, 1)

        return CSS_REFERENCE.sub(replace, css)

    def _write_once(self, name: str, data: bytes) -> None:
        """Write NAME's compressed versions, then NAME itself: whoever sees the file sees them too."""
        path = self.target / name
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.compressor.should_compress(name):
            if self.compressor.use_brotli:
                self._write_compressed(path, data, ".br", "Brotli", self.compressor.compress_brotli)
            self._write_compressed(path, data, ".gz", "Gzip", self.compressor.compress_gzip)
        self._write_atomically(path, data)

    def _write_compressed(self, path: Path, data: bytes, suffix: str, label: str, compress) -> None:
        compressed = compress(data)
        if self.compressor.is_compressed_effectively(label, str(path), len(data), compressed):
            self._write_atomically(path.with_name(path.name + suffix), compressed)

    def _write_if_changed(self, path: Path, data: bytes) -> None:
        with contextlib.suppress(OSError):
            if path.read_bytes() == data:
                return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_atomically(path, data)

    def _write_atomically(self, path: Path, data: bytes) -> None:
        """Write DATA to a temporary file beside the served folder, then rename it into place whole."""
        scratch = self.target.with_name(self.target.name + ".tmp")
        scratch.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=scratch)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def _source_files(self) -> list[Path]:
        return [
            path
            for path in self.source.rglob("*")
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(self.source).parts)
        ]


def static_build(app: Flask | None = None) -> StaticBuild:
    """This application's build, brought up to date first when files may change while it runs (development)."""
    app = app or current_app
    build: StaticBuild = app.extensions["aqueduct_static"]
    if app.config["STATIC_AUTOREFRESH"] and not g.get("_static_checked"):
        g._static_checked = True
        if build.source != Path(app.static_folder) or build.source_signature() != build.signature:
            build.source = Path(app.static_folder)
            build.build()
    return build


def register_static_files(app: Flask) -> None:
    """Build the fingerprinted files and serve them through WhiteNoise; make url_for('static') name them."""
    app.config.setdefault("STATIC_AUTOREFRESH", app.config["ENV_NAME"] != "production")
    build = StaticBuild(Path(app.static_folder), Path(app.config["STATIC_BUILD_DIR"]))
    build.build()
    app.extensions["aqueduct_static"] = build

    @app.url_defaults
    def fingerprinted_static_url(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values:
            values["filename"] = static_build().manifest.get(values["filename"], values["filename"])

    def unfingerprinted_static(filename: str):
        """Send the current file for an address without a fingerprint, or with an outdated one."""
        match = FINGERPRINTED.match(filename)
        if match and not (Path(app.static_folder) / filename).is_file():
            filename = match["stem"] + match["suffix"]
        return send_from_directory(app.static_folder, filename, max_age=UNFINGERPRINTED_MAX_AGE)

    app.view_functions["static"] = unfingerprinted_static

    def add_headers(headers, path: str, url: str) -> None:
        headers["Cache-Control"] = IMMUTABLE_CACHE
        headers["X-Content-Type-Options"] = "nosniff"

    app.wsgi_app = WhiteNoise(
        app.wsgi_app,
        root=str(build.target),
        prefix=app.static_url_path,
        autorefresh=app.config["STATIC_AUTOREFRESH"],
        max_age=None,
        add_headers_function=add_headers,
        immutable_file_test=lambda path, url: bool(FINGERPRINTED.match(posixpath.basename(url))),
    )

    @app.cli.command("build-static")
    def build_static_command() -> None:
        """Write the fingerprinted, compressed static files (the application also does so as it starts)."""
        manifest = build.build()
        click.echo(f"{len(manifest)} static files fingerprinted in {build.target}.")
