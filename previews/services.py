"""Link previews: the round the timers process runs (find links in new and edited messages,
fetch what is not cached, attach the previews, announce them) and clearing a preview.

Off the send path: sending stores nothing for previews. Each round looks at the messages created
since the last (by id, like chats.search_index, claimed under a row lock so that several timers
processes share the work) and at the edited ones (PreviewRefresh), fetches the uncached URLs in a
few threads (previews.pages, through the address guard) and gives each message whose previews
changed a new seq and a `message.preview` event: an edit-like change, so a client that missed the
event gets the message again from sync with its `link_previews`."""

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from http.client import HTTPException
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.access import require_moderator
from accounts.models import User
from chats.access import chat_audience
from chats.models import Message
from chats.selectors import current_seq
from chats.services import next_seq
from imsuite import audit
from imsuite.errors import DomainError, not_found
from imsuite.events import publish
from media.signing import absolute
from media.storage import media_storage

from .links import message_urls
from .models import LinkPreview, MessageLinkPreview, PreviewRefresh, PreviewState
from .pages import NotPreviewable, image_thumbnail, page_info

logger = logging.getLogger(__name__)
BATCH = 200  # messages looked at per round
THREADS = 4  # pages fetched at once
IMAGE_DIR = "previews/"
IMAGE_PATH = "/media/previews/"
_FETCH_FAILURES = (NotPreviewable, ValueError, OSError, HTTPException, UnicodeError)


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def preview_view(preview: LinkPreview) -> dict[str, Any]:
    """A preview as a message carries it (serializers.LinkPreviewOut)."""
    return {
        "url": preview.url,
        "title": preview.title,
        "description": preview.description,
        "site_name": preview.site_name,
        "image_url": absolute(IMAGE_PATH + preview.image_name) if preview.image_name else None,
    }


def previews_round() -> int:
    """One round; returns how many messages' previews changed."""
    work = _claim()
    if not work:
        return 0
    previews = _previews_of({url for _, urls in work for url in urls})
    return sum(_attach(message_id, urls, previews) for message_id, urls in work)


_LOOKED_AT = ("pk", "content", "deleted_at", "message_type")


def _claim() -> list[tuple[int, list[str]]]:
    """The messages created since the last round and the edited ones, with their links."""
    enabled = settings.IMSUITE["LINK_PREVIEWS_ENABLED"]
    with transaction.atomic():
        state = PreviewState.objects.select_for_update(skip_locked=True).filter(pk=1).first()
        if state is None:
            state, created = PreviewState.objects.get_or_create(pk=1)
            if not created:  # another timers process holds this round
                return []
        upto = current_seq()
        rows = list(
            Message.objects.filter(pk__gt=state.message_id, created_seq__lte=upto)
            .order_by("pk")
            .values_list(*_LOOKED_AT)[:BATCH]
        )
        if rows:
            state.message_id = rows[-1][0]
            state.save(update_fields=["message_id"])
        edited = list(PreviewRefresh.objects.values_list("message_id", flat=True)[:BATCH])
        if edited:
            PreviewRefresh.objects.filter(message_id__in=edited).delete()
            rows += Message.objects.filter(pk__in=edited).values_list(*_LOOKED_AT)
    if not enabled:  # passed over: turning previews on later does not fetch the past
        return []
    # Text only: an image or file message's content is its own URL, a caption goes with files.
    texts = (row for row in rows if row[2] is None and row[3] == Message.Type.TEXT)
    work = ((pk, message_urls(content)) for pk, content, _, _ in texts)
    return [(pk, urls) for pk, urls in work if urls]


def _previews_of(urls: set[str]) -> dict[str, LinkPreview]:
    """Each URL's preview: cached, or fetched now (a few at once) and cached."""
    found = {p.url: p for p in LinkPreview.objects.filter(url_hash__in=[url_hash(u) for u in urls])}
    ttl = timedelta(seconds=settings.IMSUITE["LINK_PREVIEW_TTL_SECONDS"])
    now = timezone.now()
    due = sorted(
        url
        for url in urls
        if url not in found
        or (found[url].status != LinkPreview.Status.CLEARED and found[url].fetched_at < now - ttl)
    )
    if due:
        with ThreadPoolExecutor(min(THREADS, len(due))) as pool:
            fetched = list(pool.map(_fetch, due))
        for url, fields in zip(due, fetched, strict=True):
            found[url], _ = LinkPreview.objects.update_or_create(
                url_hash=url_hash(url), defaults={**fields, "url": url, "fetched_at": timezone.now()}
            )
    return found


def _fetch(url: str) -> dict[str, Any]:
    """The preview's fields as fetched now (a worker thread: network and Pillow, no database)."""
    empty = {"title": "", "description": "", "site_name": "", "image_name": "", "error": ""}
    try:
        info = page_info(url)
    except _FETCH_FAILURES as exc:
        return {**empty, "status": LinkPreview.Status.FAILED, "error": str(exc)[:200]}
    except Exception as exc:  # a page that breaks the parser fails like an unreachable one
        logger.exception("link preview: %s could not be read", url)
        return {**empty, "status": LinkPreview.Status.FAILED, "error": type(exc).__name__}
    if not (info.title or info.description):
        return {**empty, "status": LinkPreview.Status.EMPTY}
    image_name = ""
    if info.image_url:
        try:
            image_name = _stored_image(image_thumbnail(info.image_url))
        except (*_FETCH_FAILURES, DomainError):
            pass  # the preview goes without its picture
    return {
        **empty,
        "status": LinkPreview.Status.OK,
        "title": info.title,
        "description": info.description,
        "site_name": info.site_name,
        "image_name": image_name,
    }


def _stored_image(data: bytes) -> str:
    """The thumbnail in media storage, named by its content: the same picture is stored once."""
    name = f"{hashlib.sha256(data).hexdigest()[:32]}.webp"
    storage = media_storage()
    if not storage.exists(IMAGE_DIR + name):
        storage.save(IMAGE_DIR + name, ContentFile(data))
    return name


def _attach(message_id: int, urls: list[str], previews: dict[str, LinkPreview]) -> int:
    """Give the message its previews, if they changed and its text still has these links (an
    edit since then queued it again)."""
    shown = [previews[url] for url in urls if previews[url].status == LinkPreview.Status.OK]
    views = [preview_view(preview) for preview in shown]
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.is_deleted or message_urls(message.content) != urls:
            return 0
        MessageLinkPreview.objects.filter(message_id=message_id).delete()
        MessageLinkPreview.objects.bulk_create(
            [MessageLinkPreview(message_id=message_id, preview=p) for p in shown]
        )
        if views == (message.link_previews or []):
            return 0
        _announce(message, views)
    return 1


def _announce(message: Message, views: list[dict[str, Any]]) -> None:
    """Inside the transaction that holds the message's row: store its previews under a new seq
    and tell its chat's members."""
    message.link_previews = views or None
    message.seq = next_seq()
    message.save(update_fields=["link_previews", "seq"])
    data = {"seq": message.seq, "chat_id": message.chat_id, "message_id": message.pk, "previews": views}
    publish("message.preview", chat_audience(message.chat_id), data)


def preview_clear(*, actor: User, preview_id: int) -> int:
    """A moderator takes a preview down: it leaves every message that shows it (each announced
    with message.preview), its picture is removed, and the URL is never previewed again. Returns
    how many messages changed."""
    require_moderator(actor)
    with transaction.atomic():
        preview = LinkPreview.objects.select_for_update().filter(pk=preview_id).first()
        if preview is None:
            raise not_found("Link preview")
        image_name = preview.image_name
        audit.record(actor, "link_preview.clear", "link_preview", preview.pk, None, url=preview.url)
        preview.status = LinkPreview.Status.CLEARED
        preview.title = preview.description = preview.site_name = preview.image_name = ""
        preview.fetched_at = timezone.now()
        preview.save()
        changed = 0
        message_ids = list(preview.uses.values_list("message_id", flat=True))
        preview.uses.all().delete()
        for message in Message.objects.select_for_update().filter(pk__in=message_ids).order_by("pk"):
            views = [view for view in message.link_previews or [] if view["url"] != preview.url]
            if views != (message.link_previews or []):
                _announce(message, views)
                changed += 1
        if image_name:
            transaction.on_commit(partial(_remove_unused_image, image_name), robust=True)
    return changed


def _remove_unused_image(name: str) -> None:
    if not LinkPreview.objects.filter(image_name=name).exists():
        media_storage().delete(IMAGE_DIR + name)
