"""The attachment object on the wire, from what a message keeps of each of its files."""

from typing import Any

from .models import Attachment
from .signing import link_expiry, media_path

# What a message row keeps of each attachment (Message.attachments): everything but the links,
# which are signed when the message is rendered.
META_FIELDS = ("id", "kind", "name", "size", "mime", "width", "height", "duration", "waveform")


def attachment_meta(attachment: Attachment) -> dict[str, Any]:
    meta = {field: getattr(attachment, field) for field in META_FIELDS}
    meta["has_thumbnail"] = bool(attachment.thumbnail)
    return meta


def attachment_views(metas: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The attachment objects {id, kind, name, size, mime, width, height, duration, waveform,
    thumbnail, url} of a message, with fresh signed links (one expiry for them all)."""
    if not metas:
        return []
    expires = link_expiry()
    views = []
    for meta in metas:
        view = {field: meta.get(field) for field in META_FIELDS}
        view["thumbnail"] = media_path(meta["id"], "thumb", expires) if meta.get("has_thumbnail") else None
        view["url"] = media_path(meta["id"], "file", expires)
        views.append(view)
    return views


def attachment_view(attachment: Attachment) -> dict[str, Any]:
    return attachment_views([attachment_meta(attachment)])[0]
