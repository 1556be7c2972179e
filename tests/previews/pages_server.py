"""A loopback web server for link preview tests: pages with OpenGraph tags, a picture, redirects,
an oversize page, a slow page and a JSON answer, counting every request by path."""

import http.server
import io
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image

ARTICLE = """<!doctype html><html><head>
<title>The plain title</title>
<meta property="og:title" content="Rust &amp; Ruby">
<meta property="og:description" content="  A tale   of two languages. ">
<meta property="og:site_name" content="Example News">
<meta property="og:image" content="/picture.png">
<meta name="description" content="not this one">
</head><body><meta property="og:title" content="not from the body"></body></html>"""

PLAIN = """<html><head><title> Only a title </title>
<meta name="description" content="And a meta description."></head><body>hi</body></html>"""

TWITTER = """<html><head><meta name="twitter:title" content="Card title">
<meta name="twitter:description" content="Card text"></head></html>"""


def picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 630), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


PICTURE = picture()


class PageServer:
    """Serves on 127.0.0.1 (the address tests reach as 127.0.0.1, localhost or a redirect)."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.cookies: list[str] = []  # every Cookie header received (every answer sets one)
        self.stop = threading.Event()  # ends the slow page's trickle
        self.slow_over = threading.Event()  # the slow page's trickle has ended, for slow_end's reason
        self.slow_end = ""  # "client left" or "gave up" (30 s, the client never cut it off)
        self.redirect_to = ""  # where /redirect sends the client
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] += 1
                server.cookies += self.headers.get_all("Cookie") or []
                server.answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        path = handler.path
        if path == "/redirect":
            handler.send_response(302)
            handler.send_header("Set-Cookie", "session=1; Path=/")
            handler.send_header("Location", self.redirect_to)
            handler.end_headers()
            return
        if path == "/slow":  # headers at once, then a byte at a time until the client gives up
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.end_headers()
            self.slow_end = "gave up"
            for _ in range(600):  # at most 30 s, should the client never give up
                if self.stop.wait(0.05):
                    break
                try:
                    handler.wfile.write(b"<")
                    handler.wfile.flush()
                except OSError:
                    self.slow_end = "client left"
                    break
            self.slow_over.set()
            return
        pages = {
            "/article": ("text/html; charset=utf-8", ARTICLE.encode()),
            "/plain": ("text/html", PLAIN.encode()),
            "/twitter": ("text/html", TWITTER.encode()),
            "/counted": ("text/html", PLAIN.encode()),
            "/other": ("text/html", TWITTER.encode()),
            "/picture.png": ("image/png", PICTURE),
            "/data.json": ("application/json", b'{"title": "not a page"}'),
            "/empty": ("text/html", b"<html><head></head><body>nothing to say</body></html>"),
            # the title early, the description past the first 2,000 bytes
            "/huge": (
                "text/html",
                b"<html><head><title>Big</title>"
                + b"<!--"
                + b"x" * 5000
                + b"-->"
                + b'<meta property="og:description" content="too far"></head></html>',
            ),
        }
        if path not in pages:
            handler.send_error(404)
            return
        kind, body = pages[path]
        handler.send_response(200)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Set-Cookie", "tracking=1")
        handler.end_headers()
        handler.wfile.write(body)


@contextmanager
def page_server() -> Iterator[PageServer]:
    server = PageServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.httpd.shutdown()
        server.httpd.server_close()
