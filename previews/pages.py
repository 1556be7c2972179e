"""Fetching a linked page and reading what it says of itself, safely.

Every request goes through imsuite.outbound_http (the address guard: loopback, private,
link-local and metadata addresses refused after DNS, unless OUTBOUND_ALLOWED_NETWORKS allows
them). Redirects are followed here, at most MAX_REDIRECTS, each to an http(s) URL that passes the
guard again. No cookies are sent or kept. At most LINK_PREVIEW_MAX_BYTES are read, within
LINK_PREVIEW_TIMEOUT_SECONDS for each request in all. Only HTML is read for a page and only a
JPEG, PNG, GIF or WebP picture for its image. Blocking: the timers process's worker threads."""

import io
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from django.conf import settings

from imsuite import outbound_http
from media.images import THUMBNAIL_SIZE, open_checked, webp_thumbnail

MAX_REDIRECTS = 3
USER_AGENT = "IM-Suite-LinkPreview/1.0"
HTML_TYPES = ("text/html", "application/xhtml+xml")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


class NotPreviewable(Exception):
    """The URL gives no preview: wrong scheme, too many redirects, an error status, not HTML."""


@dataclass
class PageInfo:
    title: str = ""
    description: str = ""
    site_name: str = ""
    image_url: str = ""  # absolute, as the page names it (fetched separately, through the guard)


def fetch(url: str, accepted: tuple[str, ...]) -> tuple[str, outbound_http.Answer]:
    """GET `url` following redirects through the guard; (final URL, answer) if the answer is a
    200 of an accepted type. Raises NotPreviewable, or what outbound_http.request raises."""
    limits = settings.IMSUITE
    headers = {"User-Agent": USER_AGENT, "Accept": ", ".join(accepted), "Accept-Encoding": "identity"}
    for _ in range(MAX_REDIRECTS + 1):
        if urlsplit(url).scheme not in ("http", "https"):
            raise NotPreviewable("only http(s)")
        answer = outbound_http.request(
            "GET", url, headers, limits["LINK_PREVIEW_TIMEOUT_SECONDS"], limits["LINK_PREVIEW_MAX_BYTES"]
        )
        location = answer.headers.get("location")
        if answer.status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location.strip())
            continue
        if answer.status != 200:
            raise NotPreviewable(f"status {answer.status}")
        kind = answer.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if kind not in accepted:
            raise NotPreviewable(f"not {' or '.join(accepted)}: {kind or 'no type'}")
        return url, answer
    raise NotPreviewable("too many redirects")


def page_info(url: str) -> PageInfo:
    """What the page at `url` says of itself (OpenGraph, Twitter cards, <title>, meta description)."""
    final_url, answer = fetch(url, HTML_TYPES)
    parser = _HeadParser()
    parser.feed(answer.body.decode(_charset(answer), errors="replace"))
    meta = parser.meta
    image = _first(
        meta, "og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"
    )
    return PageInfo(
        title=_clip(_first(meta, "og:title", "twitter:title") or parser.title, 300),
        description=_clip(_first(meta, "og:description", "twitter:description", "description"), 1000),
        site_name=_clip(_first(meta, "og:site_name"), 200),
        image_url=urljoin(final_url, image) if image else "",
    )


def image_thumbnail(url: str) -> bytes:
    """A small WebP of the picture at `url` (never hotlinked: clients load it from us)."""
    _, answer = fetch(url, IMAGE_TYPES)
    with open_checked(io.BytesIO(answer.body)) as image:
        image.draft(None, THUMBNAIL_SIZE)  # JPEG: decode at the smallest scale that fits
        return webp_thumbnail(image)


def _charset(answer: outbound_http.Answer) -> str:
    for part in answer.headers.get("content-type", "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip("\"' ")
            try:
                "".encode(charset)
            except LookupError:
                break
            return charset
    return "utf-8"


def _first(meta: dict[str, str], *names: str) -> str:
    return next((meta[name] for name in names if meta.get(name)), "")


def _clip(text: str, length: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


class _HeadParser(HTMLParser):
    """Collects <meta property|name=... content=...> and <title> until the body starts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        if tag == "body":
            self._done = True
        elif tag == "title":
            self._in_title = True
        elif tag == "meta":
            values = dict(attrs)
            key = (values.get("property") or values.get("name") or "").strip().lower()
            content = values.get("content")
            if key and content and key not in self.meta:
                self.meta[key] = content.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "head":
            self._done = True

    def handle_data(self, data: str) -> None:
        if self._in_title and not self._done:
            self.title += data
