"""Data export: a person asks for an archive of their data; the timers process builds it off the
request path (one at a time, at most DATA_EXPORT_MAX_BYTES of files: past that, files are listed
but left out) into the media storage; they download it through an authenticated URL until it
expires DATA_EXPORT_TTL_HOURS later, when the timers process removes it.

The zip holds profile.json (with the single sign-on accounts linked), friends.json, blocked.json,
groups.json, sessions.json (devices and addresses), reports.json (the reports they made, with
their outcome), messages/<chat id>.json (the messages they sent, per chat, recalled ones left out),
files.json and files/<id>-<name>."""

import json
import logging
import tempfile
import zipfile
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts.access import require_active
from accounts.models import Block, Friendship, User, UserSession
from chats.models import ChatMember, Message
from groups.models import Group
from imsuite import audit
from imsuite.errors import DomainError, ErrorCode, not_found, permission_denied
from imsuite.ratelimit import rate_limit_named
from media.models import Attachment
from media.storage import media_storage, new_name
from reports.models import Report
from sso.models import ExternalIdentity

from .models import DataExport

logger = logging.getLogger(__name__)


def export_request(*, actor: User) -> DataExport:
    """Queue an export of one's data; one at a time (CONFLICT export_pending)."""
    require_active(actor)
    if actor.is_bot:
        raise permission_denied("bot", "Bots have no data export; their owner's account has.")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=actor.pk).first()  # one request at a time per person
        if DataExport.objects.filter(user=actor, status=DataExport.Status.PENDING).exists():
            raise DomainError(
                ErrorCode.CONFLICT, "An export is already being prepared.", {"reason": "export_pending"}
            )
        rate_limit_named("DATA_EXPORTS", actor.pk)
        export = DataExport.objects.create(user=actor, created_at=timezone.now())
        audit.record(actor, "account.export_requested", "user", actor.pk, export_id=export.pk)
    return export


def exports_of(*, actor: User) -> list[DataExport]:
    require_active(actor)
    return list(DataExport.objects.filter(user=actor).order_by("-pk")[:20])


def export_access(*, actor: User, export_id: int) -> DataExport:
    """One's own export; anyone else's is NOT_FOUND (staff too: an export is private)."""
    require_active(actor)
    export = DataExport.objects.filter(pk=export_id, user=actor).first()
    if export is None:
        raise not_found("Export")
    return export


def export_open(*, actor: User, export_id: int) -> tuple[DataExport, IO[bytes]]:
    """The ready archive's bytes; CONFLICT export_not_ready (pending, failed) or export_expired."""
    export = export_access(actor=actor, export_id=export_id)
    if export.status == DataExport.Status.READY and export.expires_at and export.expires_at <= timezone.now():
        raise DomainError(ErrorCode.CONFLICT, "This export has expired.", {"reason": "export_expired"})
    if export.status != DataExport.Status.READY:
        reason = "export_expired" if export.status == DataExport.Status.EXPIRED else "export_not_ready"
        raise DomainError(ErrorCode.CONFLICT, "This export cannot be downloaded.", {"reason": reason})
    return export, media_storage().open(export.file, "rb")


# ---- the timers process's part -------------------------------------------------------------


def exports_build() -> int:
    """Build the oldest waiting export, and remove expired ones; returns how many were built."""
    _exports_expire()
    export = DataExport.objects.filter(status=DataExport.Status.PENDING).order_by("created_at", "pk").first()
    if export is None:
        return 0
    try:
        _build(export)
    except Exception:
        logger.exception("data export %s failed", export.pk)
        DataExport.objects.filter(pk=export.pk).update(
            status=DataExport.Status.FAILED, finished_at=timezone.now()
        )
    return 1


def _exports_expire() -> None:
    expired = DataExport.objects.filter(status=DataExport.Status.READY, expires_at__lte=timezone.now())
    for export in list(expired[:50]):
        _file_delete(export.file)
        DataExport.objects.filter(pk=export.pk).update(status=DataExport.Status.EXPIRED, file="")


def exports_remove(user: User) -> None:
    """Every export of an account being deleted, files and rows."""
    for export in list(DataExport.objects.filter(user=user)):
        _file_delete(export.file)
        export.delete()


def _file_delete(name: str) -> None:
    if name:
        try:
            media_storage().delete(name)
        except Exception:  # an orphan archive is harmless; its row says it expired
            logger.exception("data export: could not delete %s", name)


def _build(export: DataExport) -> None:
    user = User.objects.get(pk=export.user_id)
    limit = settings.IMSUITE["DATA_EXPORT_MAX_BYTES"]
    left_out = 0
    with tempfile.TemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in _documents(user).items():
                archive.writestr(name, json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))
            files, total = [], 0
            storage = media_storage()
            for attachment in Attachment.objects.filter(uploader=user).order_by("pk"):
                entry = {
                    "id": attachment.pk,
                    "name": attachment.name,
                    "size": attachment.size,
                    "mime": attachment.mime,
                }
                if total + attachment.size > limit:
                    left_out += 1
                    entry["left_out"] = "DATA_EXPORT_MAX_BYTES"
                else:
                    total += attachment.size
                    entry["path"] = f"files/{attachment.pk}-{attachment.name}"
                    with storage.open(attachment.file, "rb") as stored:
                        archive.writestr(entry["path"], stored.read())
                files.append(entry)
            archive.writestr("files.json", json.dumps(files, ensure_ascii=False, indent=2))
        size = spool.tell()
        spool.seek(0)
        name = media_storage().save(new_name("exports", ".zip"), File(spool))
    now = timezone.now()
    expires = now + timedelta(hours=settings.IMSUITE["DATA_EXPORT_TTL_HOURS"])
    DataExport.objects.filter(pk=export.pk).update(
        status=DataExport.Status.READY,
        finished_at=now,
        expires_at=expires,
        file=name,
        size=size,
        files_left_out=left_out,
    )


def _documents(user: User) -> dict[str, Any]:
    profile = {
        field: getattr(user, field)
        for field in (
            "id",
            "username",
            "nickname",
            "email",
            "email_verified",
            "bio",
            "sex",
            "age",
            "avatar_url",
            "date_joined",
        )
    }
    profile["single_sign_on"] = list(
        ExternalIdentity.objects.filter(user=user).order_by("pk").values("issuer", "subject", "created_at")
    )
    friends = [
        {
            "id": f.friend_id,
            "username": f.friend.username,
            "nickname": f.friend.display_name,
            "since": f.created_at,
        }
        for f in Friendship.objects.filter(user=user).select_related("friend").order_by("pk")
    ]
    memberships = ChatMember.objects.filter(user=user).order_by("chat_id")
    names = dict(Group.objects.filter(pk__in=memberships.values("chat_id")).values_list("pk", "name"))
    groups = [
        {"id": m.chat_id, "name": names[m.chat_id], "role": m.role, "card": m.card, "joined_at": m.joined_at}
        for m in memberships
        if m.chat_id in names
    ]
    sessions = list(
        UserSession.objects.filter(user=user)
        .order_by("pk")
        .values("browser", "system", "user_agent", "address", "created_at", "last_used_at")
    )
    blocked = [
        {"id": b.blocked_id, "username": b.blocked.username, "since": b.created_at}
        for b in Block.objects.filter(blocker=user).select_related("blocked").order_by("pk")
    ]
    reports = list(
        Report.objects.filter(reporter=user)
        .order_by("pk")
        .values(
            "id", "kind", "target_id", "reason", "comment", "status", "outcome", "created_at", "handled_at"
        )
    )
    documents = {
        "profile.json": profile,
        "friends.json": friends,
        "blocked.json": blocked,
        "groups.json": groups,
        "sessions.json": sessions,
        "reports.json": reports,
    }
    sent = Message.objects.filter(sender=user, deleted_at__isnull=True).order_by("chat_id", "pk")
    for message in sent.iterator():
        documents.setdefault(f"messages/{message.chat_id}.json", []).append(
            {
                "id": message.pk,
                "type": message.message_type,
                "content": message.content,
                "created_at": message.created_at,
                "edited_at": message.updated_at if message.is_edited else None,
                "attachments": [a.get("id") for a in message.attachments or []],
            }
        )
    return documents
