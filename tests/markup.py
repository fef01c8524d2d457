"""What a browser acts on in a page (its elements and attributes, not its text), for XSS tests."""

from __future__ import annotations

from html.parser import HTMLParser

SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "srcset"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, {name: value or "" for name, value in attrs}))


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    """Every element of the page as (tag, attributes), in document order."""
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.found


def assert_no_live_script(html: str) -> None:
    """No element of the page can run script: only our own script files, no handlers, no script URLs."""
    for tag, attrs in elements(html):
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/"), f"a script that isn't ours: {attrs}"
        assert tag not in {"iframe", "object", "embed", "svg", "math", "base"}, f"<{tag}> in the page"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"<{tag} {name}=…> runs script"
            if name in URL_ATTRIBUTES:
                assert not value.strip().lower().startswith(SCRIPT_SCHEMES), f"<{tag} {name}={value!r}>"
        if tag == "img":
            assert attrs.get("src", "").startswith(("/", "https://", "http://")), f"an image from a payload: {attrs}"


def links(html: str) -> dict[str, str]:
    """The page's links as {href: rel}."""
    return {attrs["href"]: attrs.get("rel", "") for tag, attrs in elements(html) if tag == "a" and "href" in attrs}


class _Text(HTMLParser):
    SKIPPED = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self.skipping += 1

    def handle_endtag(self, tag):
        if tag in self.SKIPPED and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def text_of(html: str) -> str:
    """The page's text as a reader sees it: tags gone, runs of white space one space."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


class _Confirmation(HTMLParser):
    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action = action
        self.open_details: list[tuple[bool, list[str]]] = []
        self.found: list[str] | None = None
        self.in_plain_view = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "details":
            self.open_details.append(("open" in attrs, []))
        elif tag == "form" and (attrs.get("action") or "").split("?")[0] == self.action:
            closed = [text for is_open, text in self.open_details if not is_open]
            if closed:
                self.found = closed[-1]
            else:
                self.in_plain_view = True

    def handle_endtag(self, tag):
        if tag == "details" and self.open_details:
            self.open_details.pop()

    def handle_data(self, data):
        for _, text in self.open_details:
            text.append(data)


def confirmation_around(html: str, action: str) -> str | None:
    """The words of the closed <details> a person opens to reach the form posting to `action`
    (a confirmation that needs no script), or None when that form is in plain view or absent."""
    parser = _Confirmation(action)
    parser.feed(html)
    parser.close()
    if parser.in_plain_view or parser.found is None:
        return None
    return " ".join("".join(parser.found).split())
