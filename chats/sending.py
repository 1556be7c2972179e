"""Sending messages, many at once.

Every send (REST, client connections, bots) goes through message_send_many. A process's client
connections hand their concurrent sends to it together (chats.send_queue), so that a batch
costs one query per kind of check for all its messages, one Redis round trip for the rate limit,
and one transaction: the chats' activity, one block of seqs, one multi-row insert, and one
channel-layer message to the hubs after the commit. Each message is checked on its own, exactly
as if it had come alone, and its result (or error) is its own.
"""

import operator
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any, NamedTuple

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.access import blocked_refusal, inactive_actor
from accounts.models import Block, User
from groups.models import Group
from imsuite import sql
from imsuite.errors import DomainError, not_found, permission_denied, validation_error
from imsuite.events import DomainEvent, publish_events
from imsuite.ratelimit import rate_limit_many
from media.models import Attachment
from media.rendering import attachment_meta

from .mentions import (
    chat_names,
    has_at,
    may_mention_all,
    mentioned_users,
    parse_mentions,
    unread_mentions_add,
)
from .message_rows import new_message, store_rows
from .models import Chat, ChatMember, Message
from .selectors import message_event_data, refs_and_audiences, sender_profile

CONTENT_TYPES = (Message.Type.TEXT, Message.Type.IMAGE, Message.Type.FILE)  # without attachments


class Standing(NamedTuple):
    """What a send reads of the sender's membership (plain values: a batch reads one per message)."""

    user_id: int
    chat_id: int
    role: str
    level: str
    card: str
    chat_type: str
    group_name: str | None
    dissolved_at: datetime | None
    sender_active: bool  # read with the membership: the sender may have been deactivated since connecting
    group_mention_all: bool | None  # whether the group lets plain members use @all (None: not a group)
    blocked: bool  # a private chat whose two people are blocked, either way (accounts.blocking)


@dataclass
class SendRequest:
    actor: User
    chat_id: int
    content: Any
    message_type: str = Message.Type.TEXT
    reply_to_id: int | None = None
    client_msg_id: str | None = None
    attachment_ids: list[int] | None = None
    # A forward (chats.forwarding): the original as shown, and its files to copy; content and
    # message_type are the original's, already clean.
    forwarded_from: dict[str, Any] | None = None
    forward_files: list[Attachment] | None = None


SendResult = tuple[Message, bool] | DomainError


def message_send_many(requests: Sequence[SendRequest]) -> list[SendResult]:
    """Store each message and announce it to its chat's members. Each result is (message, created)
    or the DomainError that refused it; a repeated client_msg_id returns the original message and
    stores nothing, so clients may retry safely. The checks run in this order for every request:
    client_msg_id format, membership (NOT_FOUND), the sender still active (AUTHENTICATION_FAILED),
    retry, type and content, a block between a private chat's two people, the group's state and
    mutes, reply_to, attachments, rate limit."""
    batch = _Batch(requests)
    batch.check_client_msg_ids()
    batch.load_memberships()
    batch.find_retries()
    batch.clean_contents()
    batch.check_may_send()
    batch.check_replies()
    batch.check_attachments()
    batch.count_rate()
    batch.store()
    return batch.results


class _Batch:
    def __init__(self, requests: Sequence[SendRequest]) -> None:
        self.requests = requests
        self.results: list[Any] = [None] * len(requests)
        self.members: dict[int, Standing] = {}  # request index -> membership
        self.contents: dict[int, str] = {}
        self.attachments: dict[int, list[Attachment]] = {}  # request index -> the files it sends
        self.twins: dict[int, int] = {}  # request index -> earlier index with the same client_msg_id
        self.blocked: set[tuple[int, int]] = set()  # (member, sender) whose mentions count nothing

    def live(self) -> list[int]:
        return [i for i, result in enumerate(self.results) if result is None and i not in self.twins]

    def check_client_msg_ids(self) -> None:
        for i in self.live():
            cmid = self.requests[i].client_msg_id
            if cmid is not None and (not isinstance(cmid, str) or not 0 < len(cmid) <= 64):
                self.results[i] = validation_error(
                    "client_msg_id", "format", "client_msg_id is a string of 1 to 64 characters."
                )
            elif cmid is not None and (refusal := unstorable("client_msg_id", cmid)) is not None:
                self.results[i] = refusal

    def load_memberships(self) -> None:
        live = self.live()
        users = {self.requests[i].actor.pk for i in live}
        chats = {self.requests[i].chat_id for i in live}
        rows = sql.fetch_all(_memberships_sql(len(users), len(chats)), [*users, *chats]) if live else []
        found = {(row[0], row[1]): Standing(*row) for row in rows}
        for i in live:
            member = found.get((self.requests[i].actor.pk, self.requests[i].chat_id))
            if member is None:
                self.results[i] = not_found("Chat")
            elif not member.sender_active:
                self.results[i] = inactive_actor()
            else:
                self.members[i] = member

    def find_retries(self) -> None:
        keyed = [i for i in self.live() if self.requests[i].client_msg_id is not None]
        if not keyed:
            return
        keys = [(self.requests[i].actor.pk, self.requests[i].client_msg_id) for i in keyed]
        earlier = {(m.sender_id, m.client_msg_id): m for m in _messages_by_client_id(keys)}
        first: dict[tuple[int, str], int] = {}
        for i in keyed:
            key = (self.requests[i].actor.pk, self.requests[i].client_msg_id)
            if key in earlier:
                self.results[i] = (earlier[key], False)
            elif key in first:
                self.twins[i] = first[key]  # the same send twice in one batch: answered by the first
            else:
                first[key] = i

    def clean_contents(self) -> None:
        for i in self.live():
            request = self.requests[i]
            if request.forwarded_from is not None:
                self.contents[i] = request.content
                continue
            try:
                if request.attachment_ids:
                    check_attachment_ids(request.attachment_ids)
                    self.contents[i] = clean_caption(request.content)
                    continue
                if request.message_type not in CONTENT_TYPES:
                    raise validation_error(
                        "message_type",
                        "choice",
                        "message_type is text, image or file; voice and video need attachment_ids.",
                    )
                self.contents[i] = clean_content(request.content, request.message_type)
            except DomainError as error:
                self.results[i] = error

    def check_may_send(self) -> None:
        from groups.selectors import active_mutes, mute_until

        for i in self.live():
            if self.members[i].blocked:
                self.results[i] = blocked_refusal()
        in_groups = [i for i in self.live() if self.members[i].chat_type == Chat.Type.GROUP]
        mutes = active_mutes({self.members[i].chat_id for i in in_groups})
        for i in in_groups:
            member = self.members[i]
            if member.dissolved_at is not None:
                self.results[i] = permission_denied("dissolved", "This group has been dissolved.")
                continue
            until = mute_until(member, mutes.get(member.chat_id, []))
            if until is not None:
                self.results[i] = permission_denied(
                    "muted", "You are muted in this group.", until=until.isoformat()
                )

    def check_replies(self) -> None:
        replying = [i for i in self.live() if self.requests[i].reply_to_id is not None]
        if not replying:
            return
        chats = dict(
            Message.objects.filter(pk__in={self.requests[i].reply_to_id for i in replying}).values_list(
                "pk", "chat_id"
            )
        )
        for i in replying:
            if chats.get(self.requests[i].reply_to_id) != self.requests[i].chat_id:
                self.results[i] = validation_error(
                    "reply_to_id", "not_in_chat", "You can only reply to a message of the same chat."
                )

    def check_attachments(self) -> None:
        """Each file is the sender's own and not yet sent (in this batch either)."""
        using = [i for i in self.live() if self.requests[i].attachment_ids]
        if not using:
            return
        wanted = {pk for i in using for pk in self.requests[i].attachment_ids}
        found = Attachment.objects.in_bulk(wanted)
        taken: set[int] = set()
        for i in using:
            request = self.requests[i]
            files = [found.get(pk) for pk in request.attachment_ids]
            if any(f is None or f.uploader_id != request.actor.pk for f in files):
                self.results[i] = validation_error(
                    "attachment_ids", "not_found", "An attachment is not one of your uploads."
                )
            elif any(f.message_id is not None or f.pk in taken for f in files):
                self.results[i] = _used()
            else:
                taken.update(request.attachment_ids)
                self.attachments[i] = files

    def count_rate(self) -> None:
        live = self.live()
        limits = settings.IMSUITE
        refusals = rate_limit_many(
            "message",
            [self.requests[i].actor.pk for i in live],
            limits["RATE_LIMIT_MESSAGES"],
            limits["RATE_LIMIT_WINDOW_SECONDS"],
        )
        for i, refusal in zip(live, refusals, strict=True):
            if refusal is not None:
                self.results[i] = refusal

    def store(self) -> None:
        live = self.live()
        if live:
            try:
                self._insert(live)
            except (IntegrityError, _Taken):  # a client_msg_id or a file raced in from another batch
                for i in live:
                    try:
                        self._insert([i])
                    except IntegrityError:
                        self.results[i] = self._clash(self.requests[i])
                    except _Taken:
                        self.results[i] = _used()
        alone = [i for i, first in self.twins.items() if not isinstance(self.results[first], tuple)]
        for i, first in self.twins.items():
            if i not in alone:
                self.results[i] = (self.results[first][0], False)
        if alone:  # the first of them was refused: each is checked as if it came alone, after it
            for i, result in zip(alone, message_send_many([self.requests[i] for i in alone]), strict=True):
                self.results[i] = result

    @staticmethod
    def _clash(request: SendRequest) -> SendResult:
        """A lone insert hit a constraint: a client_msg_id stored meanwhile (the retry's answer), or
        a row it refers to deleted meanwhile (the chat gone)."""
        original = None
        if request.client_msg_id is not None:
            original = (
                Message.objects.select_related("chat")
                .filter(sender=request.actor, client_msg_id=request.client_msg_id)
                .first()
            )
        return (original, False) if original is not None else not_found("Chat")

    def _insert(self, indexes: list[int]) -> None:
        kinds = {
            self.members[i].chat_id: (self.members[i].chat_type, self.members[i].group_name) for i in indexes
        }
        refs, audiences = refs_and_audiences(kinds)
        mentions = self._mentions(indexes)
        now = timezone.now()
        files = any(i in self.attachments or self.requests[i].forward_files for i in indexes)
        with _writing(alone=not mentions and not files):
            self._copy_forward_files(indexes)
            messages = [
                new_message(
                    self.requests[i].actor,
                    chat_id=self.members[i].chat_id,
                    content=self.contents[i],
                    message_type=(
                        files_type(self.attachments[i])
                        if i in self.attachments
                        else self.requests[i].message_type
                    ),
                    attachments=[attachment_meta(f) for f in self.attachments[i]]
                    if i in self.attachments
                    else None,
                    reply_to_id=self.requests[i].reply_to_id,
                    client_msg_id=self.requests[i].client_msg_id,
                    created_at=now,
                    mentions=mentions.get(i),
                    forwarded_from=self.requests[i].forwarded_from,
                )
                for i in indexes
            ]
            store_rows(messages, sorted(kinds))
            unread_mentions_add(_mention_counts(messages, audiences, self.blocked))
            for i, message in zip(indexes, messages, strict=True):
                if i in self.attachments:
                    _claim(self.attachments[i], message, now)
            events = []
            for i, message in zip(indexes, messages, strict=True):
                data = message_event_data(message, refs[message.chat_id])
                data["sender_profile"] = sender_profile(message.sender, self.members[i])
                events.append(
                    DomainEvent(name="message.new", audience=frozenset(audiences[message.chat_id]), data=data)
                )
            publish_events(events)
        for i, message in zip(indexes, messages, strict=True):
            self.results[i] = (message, True)

    def _copy_forward_files(self, indexes: list[int]) -> None:
        """A forward sends copies of the original's files (chats.forwarding), claimed below like uploads."""
        for i in indexes:
            files = self.requests[i].forward_files
            if files:
                self.attachments[i] = forward_copies(files, self.requests[i].actor.pk)

    def _mentions(self, indexes: list[int]) -> dict[int, list[int | str]]:
        """The mentions of these messages (chats.mentions): the names of the members of the chats
        written to with an '@' are read with one query (with whom of their senders each member
        blocked, `self.blocked`), and nothing for a batch without any."""
        # A forward mentions nobody: its text was written to another chat.
        calling = [i for i in indexes if self.requests[i].forwarded_from is None and has_at(self.contents[i])]
        senders = {self.members[i].user_id for i in calling}
        names = chat_names({self.members[i].chat_id for i in calling}, senders)
        found = {}
        for i in calling:
            member = self.members[i]
            self.blocked |= names[member.chat_id].blocked
            all_ok = may_mention_all(member.role, member.group_mention_all)
            mentions = parse_mentions(self.contents[i], names[member.chat_id], member.user_id, all_ok)
            if mentions:
                found[i] = mentions
        return found


def _writing(alone: bool) -> AbstractContextManager[Any]:
    """The transaction around a batch's writes. A batch whose only write is message_rows' one
    statement needs none on PostgreSQL: autocommitted, it is atomic and costs no BEGIN and COMMIT.
    Inside a caller's transaction it takes a savepoint all the same, so that a failed batch can be
    retried message by message."""
    if alone and sql.on_postgresql() and not connection.in_atomic_block:
        return nullcontext()
    return transaction.atomic()


def _mention_counts(
    messages: list[Message], audiences: dict[int, set[int]], blocked: set[tuple[int, int]]
) -> dict[tuple[int, int], int]:
    """By how much each member's unread mention count rises with these messages. A mention by
    someone the member blocked, a (member, sender) pair in `blocked`, does not count."""
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for message in messages:
        for user_id in mentioned_users(message.mentions, audiences[message.chat_id], message.sender_id):
            if (user_id, message.sender_id) not in blocked:
                counts[message.chat_id, user_id] += 1
    return counts


class _Taken(Exception):
    """A file was sent by another batch between the check and the claim."""


def _used() -> DomainError:
    return validation_error("attachment_ids", "used", "An attachment can be sent only once.")


def _claim(files: list[Attachment], message: Message, moment: datetime) -> None:
    """Tie the files to their message, only if no other message took them meanwhile."""
    claimed = Attachment.objects.filter(pk__in=[f.pk for f in files], message__isnull=True).update(
        message=message, chat_id=message.chat_id, attached_at=moment
    )
    if claimed != len(files):
        raise _Taken


def forward_copies(files: list[Attachment], uploader_id: int) -> list[Attachment]:
    """New rows over the same stored files, owned by the forwarder: the target chat's members read
    them as any file of their chat, and each copy lives and goes with its own message (a stored
    file is deleted with its last row: media.services.attachment_files_remove)."""
    copies = [
        Attachment(uploader_id=uploader_id, **{name: getattr(original, name) for name in _COPIED})
        for original in files
    ]
    return Attachment.objects.bulk_create(copies)


_COPIED = ("kind", "name", "size", "mime", "width", "height", "duration", "waveform", "file", "thumbnail")


def files_type(files: list[Attachment]) -> str:
    """A message's type from its files: image or video if they all are, voice for one recording,
    file otherwise."""
    kinds = {f.kind for f in files}
    if kinds == {Attachment.Kind.VOICE} and len(files) == 1:
        return Message.Type.VOICE
    if len(kinds) == 1 and kinds <= {Attachment.Kind.IMAGE, Attachment.Kind.VIDEO}:
        return kinds.pop()
    return Message.Type.FILE


def _memberships_sql(users: int, chats: int) -> str:
    """The Standing of these users in these chats: constant SQL (the ORM compiled it per batch). It
    reads each sender's is_active too: connections hold the User loaded when they opened, and, for
    a private chat, whether a block stands between its two people (the peer's membership and the
    two directions of the block table, three index probes in the same statement, no extra query)."""
    member, block = ChatMember._meta.db_table, Block._meta.db_table
    return (
        "SELECT cm.user_id, cm.chat_id, cm.role, cm.level, cm.card, c.type, g.name, g.dissolved_at,"  # noqa: S608
        f" u.is_active, g.members_mention_all, c.type = '{Chat.Type.PRIVATE}' AND EXISTS"
        f" (SELECT 1 FROM {member} peer WHERE peer.chat_id = cm.chat_id AND peer.user_id <> cm.user_id"
        f" AND (EXISTS (SELECT 1 FROM {block} b WHERE b.blocker_id = cm.user_id"
        " AND b.blocked_id = peer.user_id)"
        f" OR EXISTS (SELECT 1 FROM {block} b WHERE b.blocker_id = peer.user_id"
        " AND b.blocked_id = cm.user_id)))"
        f" FROM {member} cm JOIN {Chat._meta.db_table} c ON c.id = cm.chat_id"
        f" JOIN {User._meta.db_table} u ON u.id = cm.user_id"
        f" LEFT JOIN {Group._meta.db_table} g ON g.chat_id = c.id"
        f" WHERE cm.user_id IN ({sql.placeholders(users)}) AND cm.chat_id IN ({sql.placeholders(chats)})"
    )


def _messages_by_client_id(keys: list[tuple[int, str]]) -> list[Message]:
    """The messages stored under these (sender, client_msg_id) keys: one index probe per key. On
    PostgreSQL each key is looked up LATERALly, a plan that stays right even when the statistics lag
    behind a fast-growing table (an OR of the keys, and a plain join, were seen scanning the whole
    index: 84 ms against 1.6 ms for 300 keys)."""
    if connection.vendor != "postgresql":
        match = reduce(operator.or_, (Q(sender_id=sender, client_msg_id=cmid) for sender, cmid in keys))
        return list(Message.objects.filter(match).select_related("chat"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.id FROM unnest(%s::bigint[], %s::text[]) AS k(sender, cmid), LATERAL"  # noqa: S608
            f" (SELECT id FROM {Message._meta.db_table} WHERE sender_id = k.sender AND client_msg_id = k.cmid"
            " LIMIT 1) m",
            [[sender for sender, _ in keys], [cmid for _, cmid in keys]],
        )
        ids = [row[0] for row in cursor.fetchall()]
    return list(Message.objects.filter(pk__in=ids).select_related("chat")) if ids else []


def check_attachment_ids(attachment_ids: list[int]) -> None:
    limit = settings.IMSUITE["MESSAGE_MAX_ATTACHMENTS"]
    if len(attachment_ids) > limit:
        raise validation_error("attachment_ids", "too_many", f"A message carries at most {limit} files.")
    if len(set(attachment_ids)) != len(attachment_ids):
        raise validation_error("attachment_ids", "duplicate", "Each file is attached once.")


def unstorable(field: str, text: str) -> DomainError | None:
    """The refusal of a text no database can store, with DRF's reasons for the same refusals in
    REST bodies: a NUL character (PostgreSQL's text cannot hold one) or a lone surrogate (not
    UTF-8). The WebSocket, REST and bot schemas refuse both already; a caller that skips them came
    this far, and failed its whole send batch."""
    if "\x00" in text:
        return validation_error(field, "null_characters_not_allowed", "Null characters are not allowed.")
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return validation_error(
                field, "surrogate_characters_not_allowed", "Surrogate characters are not allowed."
            )
    return None


def clean_caption(content: Any) -> str:
    """A caption beside files (when sent and when edited): may be empty, otherwise as a text
    message's content."""
    if isinstance(content, str) and not content.strip():
        return ""
    return clean_content(content, Message.Type.TEXT)


def clean_content(content: Any, message_type: str) -> str:
    """The content as stored: a non-empty string within MESSAGE_MAX_LENGTH, a URL for images and files."""
    if not isinstance(content, str):
        raise validation_error("content", "type", "content must be a string.")
    content = content.strip()
    limit = settings.IMSUITE["MESSAGE_MAX_LENGTH"]
    if not content:
        raise validation_error("content", "empty", "A message cannot be empty.")
    if len(content) > limit:
        raise validation_error("content", "too_long", f"A message is at most {limit} characters.")
    if (refusal := unstorable("content", content)) is not None:
        raise refusal
    if message_type in (Message.Type.IMAGE, Message.Type.FILE) and not content.startswith(
        ("https://", "http://")
    ):
        raise validation_error("content", "not_url", "An image or file message carries its http(s) URL.")
    return content
