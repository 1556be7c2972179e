"""Every change to uploaded files: uploading one, and removing files (retention, recalls)."""

import logging
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Sum

from accounts.access import require_active, require_moderator
from accounts.models import User
from imsuite import audit, safe_json
from imsuite.body_limit import upload_too_large
from imsuite.errors import DomainError, ErrorCode, not_found, validation_error
from imsuite.ratelimit import rate_limit_named

from . import images
from .models import Attachment
from .sniff import HEAD_BYTES, RASTER_IMAGES, sniff
from .storage import media_storage, new_name

logger = logging.getLogger(__name__)
WAVEFORM_MAX_POINTS = 64
WAVEFORM_TEXT_MAX_BYTES = 1024  # 64 levels written out take at most 320
DURATION_MAX_SECONDS = 86400.0


def attachment_upload(
    *,
    actor: User,
    upload: UploadedFile,
    kind: str | None = None,
    duration: Any = None,
    waveform: Any = None,
) -> Attachment:
    """Store an uploaded file for its uploader to send. The type comes from the bytes; pictures
    are cleaned (media.images); `kind="voice"` marks an audio recording as a voice message, whose
    duration and waveform the recording client measured (mobile apps and the web client alike).
    Refusals: VALIDATION_ERROR with reason empty, too_large (413), quota (413), type, corrupt,
    image_too_large; RATE_LIMITED."""
    require_active(actor)
    if kind not in (None, "", Attachment.Kind.VOICE):
        raise validation_error("kind", "choice", 'kind is empty or "voice"; other kinds come from the bytes.')
    upload_admit(actor=actor, upload=upload)
    duration, waveform = _clean_duration(duration), _clean_waveform(waveform)
    upload.seek(0)
    mime = sniff(upload.read(HEAD_BYTES))
    upload.seek(0)
    attachment = Attachment(uploader=actor, name=_clean_name(upload.name), mime=mime)
    picture = None
    if kind == Attachment.Kind.VOICE:
        if not (mime.startswith("audio/") or mime in ("video/webm", "video/ogg")):
            raise validation_error("file", "type", "A voice message is an audio recording (Opus, AAC, MP3).")
        attachment.kind = Attachment.Kind.VOICE
        attachment.mime = "audio/" + mime.split("/")[1] if mime.startswith("video/") else mime
    elif mime in RASTER_IMAGES:
        attachment.kind = Attachment.Kind.IMAGE
        picture = images.process_image(upload)
        upload.seek(0)
        attachment.mime, attachment.width, attachment.height = picture.mime, picture.width, picture.height
    elif mime.startswith("video/"):
        attachment.kind = Attachment.Kind.VIDEO
    else:
        attachment.kind = Attachment.Kind.FILE
    if attachment.kind in (Attachment.Kind.VOICE, Attachment.Kind.VIDEO):
        attachment.duration = duration
        attachment.waveform = waveform if attachment.kind == Attachment.Kind.VOICE else None
    content: File = ContentFile(picture.data) if picture is not None else upload
    attachment.size = content.size
    _check_quota(actor, attachment.size)
    _store(attachment, content, picture.thumbnail if picture is not None else None)
    return attachment


def upload_admit(*, actor: User, upload: UploadedFile) -> None:
    """What every upload passes first, attachment or avatar: not empty (reason empty), within
    UPLOAD_MAX_BYTES (too_large, 413), within RATE_LIMIT_UPLOADS (RATE_LIMITED)."""
    limits = settings.IMSUITE
    if upload.size == 0:
        raise validation_error("file", "empty", "The file is empty.")
    if upload.size > limits["UPLOAD_MAX_BYTES"]:
        raise upload_too_large(limits["UPLOAD_MAX_BYTES"])  # as the HTTP layer refuses a longer body
    rate_limit_named("UPLOADS", actor.pk)


def _check_quota(actor: User, size: int) -> None:
    """The uploader's files (not yet removed) and this one within UPLOAD_QUOTA_BYTES. Two uploads
    racing may both pass: the quota is a fair-use bound, not an accounting one."""
    quota = settings.IMSUITE["UPLOAD_QUOTA_BYTES"]
    used = Attachment.objects.filter(uploader=actor).aggregate(total=Sum("size"))["total"] or 0
    if used + size > quota:
        error = validation_error(
            "file", "quota", f"Your files would take more than your {quota} bytes of storage.", status=413
        )
        error.details.update(used=used, quota=quota)
        raise error


def _store(attachment: Attachment, content: File, thumbnail: bytes | None) -> None:
    """The bytes first, then the row: a row never names a file that is not there. If the row
    cannot be written, the files go again."""
    storage = media_storage()
    names = [storage.save(new_name(), content)]
    # The filesystem storage moves a large upload's temporary file in place. Closed now: Django
    # closes it when the response is, which a client going away skips, and the temporary file's
    # finalizer then fails to remove the moved file ("Exception ignored" on stderr).
    content.close()
    try:
        if thumbnail is not None:
            names.append(storage.save(names[0] + ".thumb", ContentFile(thumbnail)))
            attachment.thumbnail = names[1]
        attachment.file = names[0]
        attachment.save()
    except BaseException:
        _delete_files(names)
        raise


def _delete_files(names: Iterable[str]) -> list[str]:
    """Delete these stored files; returns the names whose deletion failed (logged), to try again."""
    storage = media_storage()
    failed = []
    for name in names:
        if not name:
            continue
        try:
            storage.delete(name)
        except Exception:  # a storage that fails now is asked again by the next retention round
            logger.exception("media: could not delete %s", name)
            failed.append(name)
    return failed


def attachment_files_remove(attachments: Iterable[Attachment]) -> int:
    """Delete the attachments' files, then their rows; returns how many went. An attachment whose
    file could not be deleted keeps its row, so that the next round tries again."""
    attachments = list(attachments)
    shared = _files_kept_by_others(attachments)
    removed = []
    for attachment in attachments:
        names = [name for name in (attachment.file, attachment.thumbnail) if name not in shared]
        if not _delete_files(names):
            removed.append(attachment.pk)
    Attachment.objects.filter(pk__in=removed).delete()
    return len(removed)


def _files_kept_by_others(attachments: list[Attachment]) -> set[str]:
    """The stored names among these attachments' that other rows still use: a forwarded file is a
    copied row over the same stored file (chats.forwarding), which outlives the original's row."""
    names = {name for a in attachments for name in (a.file, a.thumbnail) if name}
    if not names:
        return set()
    others = Attachment.objects.exclude(pk__in=[a.pk for a in attachments])
    return set(others.filter(file__in=names).values_list("file", flat=True)) | set(
        others.filter(thumbnail__in=names).values_list("thumbnail", flat=True)
    )


def messages_forget(attachments: list[Attachment]) -> None:
    """Take these attachments out of their messages' `attachments` lists (a message keeps its
    text, id and seq: docs/architecture.md), so that no message names a file about to be removed.
    The messages are locked while their lists are rewritten: a recall committing meanwhile is kept."""
    gone: dict[int, set[int]] = {}
    for attachment in attachments:
        if attachment.message_id is not None:
            gone.setdefault(attachment.message_id, set()).add(attachment.pk)
    if not gone:
        return
    messages = Attachment._meta.get_field("message").related_model.objects  # chats.Message, not imported
    with transaction.atomic():
        changed = []
        for message in messages.select_for_update().filter(pk__in=gone).only("pk", "attachments"):
            kept = [meta for meta in message.attachments or [] if meta.get("id") not in gone[message.pk]]
            if kept != (message.attachments or []):
                message.attachments = kept
                changed.append(message)
        messages.bulk_update(changed, ["attachments"])


def files_remove(attachments: list[Attachment]) -> list[Attachment]:
    """Remove these attachments everywhere: out of their messages, then their files and rows
    (retention, a moderator's recall, admin). Returns those removed; one whose file the storage
    refused keeps its row, for the next try."""
    messages_forget(attachments)
    if not attachment_files_remove(attachments):
        return []
    left = set(Attachment.objects.filter(pk__in=[a.pk for a in attachments]).values_list("pk", flat=True))
    return [a for a in attachments if a.pk not in left]


def message_files_remove(message_id: int) -> None:
    """Remove a recalled message's files now instead of after MEDIA_DELETED_GRACE_SECONDS (a site
    moderator's recall, run after it committed)."""
    files_remove(list(Attachment.objects.filter(message_id=message_id)))


def attachment_remove(*, actor: User, attachment_id: int) -> Attachment:
    """A moderator removes an uploaded file and its thumbnail, sent or not: it leaves its message's
    list, then the storage and the table. Recorded in the audit log once it is gone."""
    require_moderator(actor)
    attachment = Attachment.objects.select_related("chat").filter(pk=attachment_id).first()
    if attachment is None:
        raise not_found("Attachment")
    if not files_remove([attachment]):
        message = "The storage could not remove the file; try again."
        raise DomainError(ErrorCode.SERVICE_UNAVAILABLE, message, {"reason": "storage"})
    chat = attachment.chat
    audit.record(
        actor,
        "attachment.remove",
        "attachment",
        attachment.pk,
        chat.pk if chat is not None and chat.type == "group" else None,  # a group's id is its chat's
        uploader_id=attachment.uploader_id,
        name=attachment.name,
        size=attachment.size,
        message_id=attachment.message_id,
        chat_id=attachment.chat_id,
    )
    return attachment


def _clean_name(name: str | None) -> str:
    """The name shown and offered on download: no path, no control characters, at most 255."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().strip(".")
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 254 - len(ext)] + dot + ext) if dot and len(ext) < 16 else name[:255]
    return name or "file"


def _clean_duration(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 <= seconds <= DURATION_MAX_SECONDS:  # NaN fails this too
        raise validation_error(
            "duration", "range", f"duration is seconds from 0 to {DURATION_MAX_SECONDS:g}."
        )
    return round(seconds, 3)


def _clean_waveform(value: Any) -> list[int] | None:
    """Up to 64 levels 0-255: a JSON list (multipart sends it as a string)."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:  # the one safe decoder: plain json.loads recurses into "[[[[..." until RecursionError
            value = safe_json.loads(value, WAVEFORM_TEXT_MAX_BYTES, "waveform")
        except DomainError:
            value = None
    if (
        not isinstance(value, list)
        or len(value) > WAVEFORM_MAX_POINTS
        or not all(type(v) is int and 0 <= v <= 255 for v in value)
    ):
        raise validation_error(
            "waveform", "format", f"waveform is a JSON list of at most {WAVEFORM_MAX_POINTS} integers 0-255."
        )
    return value
