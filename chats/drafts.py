"""Drafts: what a person has begun writing in a chat, kept for every device of theirs.

A send never touches drafts (the send path stays as it was): a draft is superseded once the person
sends any message in the chat after it was saved (Draft.base_message_id), and reads skip it. Their
other devices learn of the send from the message.new they hear anyway, and drop the draft too.
"""

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.access import require_active
from accounts.models import User
from imsuite.errors import permission_denied, validation_error
from imsuite.events import publish
from imsuite.ratelimit import rate_limit_named

from .access import access_chat
from .models import ChatMember, Draft, Message


def draft_data(draft: Draft) -> dict[str, Any]:
    return {
        "chat_id": draft.chat_id,
        "text": draft.text,
        "reply_to_id": draft.reply_to_id,
        "updated_at": draft.updated_at,
    }


def draft_list(*, actor: User) -> list[dict[str, Any]]:
    """The actor's drafts in chats they are in (and were in when the draft was saved), without
    those a later message of theirs superseded."""
    _refuse_bots(actor)
    require_active(actor)
    member = ChatMember.objects.filter(
        chat_id=OuterRef("chat_id"), user_id=actor.pk, joined_at__lte=OuterRef("updated_at")
    )
    sent_since = Message.objects.filter(
        chat_id=OuterRef("chat_id"), id__gt=OuterRef("base_message_id"), sender_id=actor.pk
    )
    drafts = Draft.objects.filter(Exists(member), user_id=actor.pk).exclude(Exists(sent_since))
    return [draft_data(draft) for draft in drafts.order_by("chat_id")]


def draft_save(
    *, actor: User, chat_id: int, text: str, reply_to_id: int | None = None, origin: str | None = None
) -> dict[str, Any]:
    """Keep the actor's draft of a chat (blank text clears it) and tell their other devices with
    draft.updated; `origin`, the connection that saved it, hears no echo."""
    if not text.strip():
        return draft_clear(actor=actor, chat_id=chat_id, origin=origin)
    _refuse_bots(actor)
    access_chat(actor, chat_id)
    limit = settings.IMSUITE["MESSAGE_MAX_LENGTH"]
    if len(text) > limit:
        raise validation_error("text", "too_long", f"A draft is at most {limit} characters.")
    if reply_to_id is not None and not Message.objects.filter(pk=reply_to_id, chat_id=chat_id).exists():
        raise validation_error(
            "reply_to_id", "not_in_chat", "You can only reply to a message of the same chat."
        )
    rate_limit_named("DRAFTS", actor.pk)
    newest = Message.objects.filter(chat_id=chat_id).order_by("-id").values_list("id", flat=True).first()
    with transaction.atomic():
        draft, _ = Draft.objects.update_or_create(
            user=actor,
            chat_id=chat_id,
            defaults={
                "text": text,
                "reply_to_id": reply_to_id,
                "base_message_id": newest or 0,
                "updated_at": timezone.now(),
            },
        )
        data = draft_data(draft)
        publish("draft.updated", {actor.pk}, {**data, "origin": origin})
    return data


def draft_clear(*, actor: User, chat_id: int, origin: str | None = None) -> dict[str, Any]:
    """Drop the actor's draft of a chat; their other devices hear draft.updated with empty text."""
    _refuse_bots(actor)
    access_chat(actor, chat_id)
    rate_limit_named("DRAFTS", actor.pk)
    data = {"chat_id": chat_id, "text": "", "reply_to_id": None, "updated_at": timezone.now()}
    with transaction.atomic():
        deleted, _ = Draft.objects.filter(user=actor, chat_id=chat_id).delete()
        if deleted:
            publish("draft.updated", {actor.pk}, {**data, "origin": origin})
    return data


def _refuse_bots(actor: User) -> None:
    """Bots write no drafts: they have no devices to carry one between."""
    if actor.is_bot:
        raise permission_denied("bot", "Bots have no drafts.")
