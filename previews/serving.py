"""GET /media/previews/<name>: the thumbnails of link previews, fetched by the server so that a
client never loads a linked site's picture itself (its address would reach that site, and the
page's img-src stays our own origin). Named by their content (SHA-256), so never changed under
their name: browsers may keep them for a year. Public by link, like avatars."""

import re

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from media.avatar_serving import public_webp

from .services import IMAGE_DIR

NAME_RE = re.compile(r"[0-9a-f]{32}\.webp")


@require_safe
def preview_image(request: HttpRequest, name: str) -> HttpResponse:
    return public_webp(IMAGE_DIR, name, NAME_RE, "Image")
