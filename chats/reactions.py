"""Reactions (issue 22): people put emoji on the messages they can read.

A message's reactions are rows of Reaction, one per (message, person, emoji), and a summary kept on
the message row (`Message.reactions`: [{emoji, count, user_ids}] in order of each emoji's first
use, user_ids the first SUMMARY_USERS), so that history, sync and events carry them without
another query. A change bumps the message's seq as an edit does and is published as the seq event
`message.reaction`: a client that was away learns of it from sync (a message.edit of the message,
reactions included), and the hubs read a lost one back from the database like any change.
What is per viewer, `me`, is added to pages read for one person (mark_mine), one query a page.
"""

import unicodedata
from typing import Any

from django.db import transaction

from accounts.access import blocked_refusal
from accounts.models import User
from accounts.selectors import is_blocked_between, user_ref
from imsuite.errors import DomainError, ErrorCode, not_found, permission_denied, validation_error
from imsuite.events import publish
from imsuite.ratelimit import rate_limit_named

from .access import access_message, chat_audience
from .models import Chat, ChatMember, Message, Reaction
from .seq_counter import take_seqs

MAX_DISTINCT = 20  # different emoji on one message; a new one past it is refused
SUMMARY_USERS = 5  # who reacted, per emoji, in the summary; GET .../reactions lists everyone
EMOJI_MAX_CODE_POINTS = 8  # a family or a flag with its joiners fits; a sentence of emoji does not
EMOJI_MAX_BYTES = 32
# What may join pictographs into one emoji: zero-width joiner, variation selectors, the keycap.
_JOINERS = frozenset("\u200d\ufe0e\ufe0f\u20e3")
_KEYCAP_BASES = frozenset("0123456789#*")


def clean_emoji(value: Any) -> str:
    """The emoji, or VALIDATION_ERROR (field emoji, reason invalid): 1 to 8 code points and at most
    32 bytes of UTF-8, made of pictographic symbols (Unicode categories So and Sk: emoji, skin
    tones, regional-indicator flags) and what joins them (ZWJ, variation selectors, the keycap
    mark, tag characters), with at least one symbol; no letters, spaces or punctuation."""
    if not isinstance(value, str) or not value:
        raise validation_error("emoji", "required", "emoji is one emoji.")
    points = list(value)
    fits = len(points) <= EMOJI_MAX_CODE_POINTS and len(value.encode()) <= EMOJI_MAX_BYTES
    symbols = [p for p in points if unicodedata.category(p) in ("So", "Sk") or p == "\u20e3"]
    others = [
        p
        for i, p in enumerate(points)
        if unicodedata.category(p) not in ("So", "Sk")
        and p not in _JOINERS
        and not 0xE0020 <= ord(p) <= 0xE007F  # tags (subdivision flags)
        and not (p in _KEYCAP_BASES and points[i + 1 : i + 2] in (["\ufe0f"], ["\u20e3"]))
    ]
    if not fits or not symbols or others:
        raise validation_error("emoji", "invalid", "emoji is one emoji (at most 8 code points, 32 bytes).")
    return value


def summary(message_id: int) -> list[dict[str, Any]] | None:
    """The message's summary from its rows (one query), None when it has none."""
    items: dict[str, dict[str, Any]] = {}
    rows = Reaction.objects.filter(message_id=message_id).order_by("id").values_list("emoji", "user_id")
    for emoji, user_id in rows:
        item = items.setdefault(emoji, {"emoji": emoji, "count": 0, "user_ids": []})
        item["count"] += 1
        if len(item["user_ids"]) < SUMMARY_USERS:
            item["user_ids"].append(user_id)
    return list(items.values()) or None


def _check_may_react(actor: User, message: Message, member: ChatMember | None) -> None:
    """Members react to what they read: not moderators from outside, not on recalled messages,
    not muted group members, not in a private chat across a block. A block does not stop anyone
    in a group (like sending there: chats.sending.check_may_send)."""
    from groups.selectors import active_mutes, mute_until

    if member is None:
        raise not_found("Message")
    if message.is_deleted:
        raise DomainError(ErrorCode.CONFLICT, "This message was deleted.", {"reason": "deleted"})
    if message.chat.type == Chat.Type.PRIVATE:
        peer = ChatMember.objects.filter(chat_id=message.chat_id).exclude(user_id=actor.pk).first()
        if peer is not None and is_blocked_between(actor.pk, peer.user_id):
            raise blocked_refusal()
        return
    group = message.chat.group
    if group.dissolved_at is not None:
        raise permission_denied("dissolved", "This group has been dissolved.")
    until = mute_until(member, active_mutes([group.pk]).get(group.pk, []))
    if until is not None:
        raise permission_denied("muted", "You are muted in this group.", until=until.isoformat())


def reaction_set(*, actor: User, message_id: int, emoji: Any, add: bool) -> dict[str, Any]:
    """Add (or remove) the actor's emoji on a message. Idempotent: adding what is there or
    removing what is not changes nothing and announces nothing. A change is published to the
    chat's members as `message.reaction`. Returns {message_id, chat_id, reactions} for the actor."""
    emoji = clean_emoji(emoji)
    rate_limit_named("REACTIONS", actor.pk)
    with transaction.atomic():
        message, member = access_message(actor, message_id, lock=True)
        _check_may_react(actor, message, member)
        mine = Reaction.objects.filter(message=message, user=actor, emoji=emoji)
        if add == mine.exists():
            return reactions_answer(message, actor.pk)
        if add:
            present = {item["emoji"] for item in message.reactions or ()}
            if emoji not in present and len(present) >= MAX_DISTINCT:
                raise DomainError(
                    ErrorCode.CONFLICT,
                    f"A message takes at most {MAX_DISTINCT} different emoji.",
                    {"reason": "too_many_reactions", "limit": MAX_DISTINCT},
                )
            Reaction.objects.create(message=message, user=actor, emoji=emoji)
        else:
            mine.delete()
        message.reactions = summary(message.pk)
        message.seq = take_seqs(1)
        message.save(update_fields=["reactions", "seq"])
        data = {
            "seq": message.seq,
            "chat_id": message.chat_id,
            "message_id": message.pk,
            "emoji": emoji,
            "user_id": actor.pk,
            "added": add,
            "reactions": message.reactions or [],
        }
        publish("message.reaction", chat_audience(message.chat_id), data)
    return reactions_answer(message, actor.pk)


def reactions_answer(message: Message, viewer_id: int) -> dict[str, Any]:
    """The REST answer to a reaction change: the message's summary as the viewer sees it."""
    body = {"id": message.pk, "reactions": message.reactions or []}
    mark_mine([body], viewer_id)
    return {"message_id": message.pk, "chat_id": message.chat_id, "reactions": body["reactions"]}


def reactions_of(*, actor: User, message_id: int) -> dict[str, Any]:
    """Everyone's reactions on a message the actor can read (moderators too), by emoji in order
    of first use, each with every person who reacted, in order. None on a recalled message."""
    message, _member = access_message(actor, message_id)
    items: dict[str, dict[str, Any]] = {}
    if not message.is_deleted:
        rows = Reaction.objects.filter(message=message).select_related("user").order_by("id")
        for reaction in rows:
            item = items.setdefault(
                reaction.emoji, {"emoji": reaction.emoji, "count": 0, "me": False, "users": []}
            )
            item["count"] += 1
            item["me"] = item["me"] or reaction.user_id == actor.pk
            item["users"].append(user_ref(reaction.user))
    return {"message_id": message.pk, "chat_id": message.chat_id, "reactions": list(items.values())}


def mark_mine(messages: list[dict[str, Any]], viewer_id: int) -> list[dict[str, Any]]:
    """Add `me` to the reactions of rendered messages read for one viewer (a history or sync page):
    one query for the page, none when nothing on it has reactions."""
    reacted = [m for m in messages if m.get("reactions")]
    if reacted:
        mine = set(
            Reaction.objects.filter(user_id=viewer_id, message_id__in=[m["id"] for m in reacted]).values_list(
                "message_id", "emoji"
            )
        )
        for m in reacted:
            m["reactions"] = [item | {"me": (m["id"], item["emoji"]) in mine} for item in m["reactions"]]
    return messages
