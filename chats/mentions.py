"""Who a message calls by name: `@username`, `@nickname` (or in-group card) of a member, `@all`.

Parsed on the server when a message is sent or edited, into Message.mentions: the mentioned
members' ids, sorted, with "all" first for @all; None when nobody is mentioned. Only members of
the chat can be mentioned. After an '@' (not one inside a word such as an e-mail address) the
longest member name that follows, compared case-insensitively, is taken. A name ending in a
CJK (wide) character needs nothing after it (`@张三你好`); any other name must not be followed by
a letter, digit or '_', nor by '.' or '-' and one of those (`@bob.` and `@bob,` mention bob,
`@bob.smith` does not). A name shared by several members mentions each of them. `@all` and
`@全体成员` are reserved words: they mention everyone when the sender may use them (owner, admin,
or any member where the group allows it) and are plain text otherwise. Nobody mentions themself.
"""

import operator
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import reduce

from django.db.models import Case, F, Q, Value, When

from accounts.models import Block, User
from groups.models import Group
from imsuite import sql

from .models import ChatMember, Message, Role

ALL = "all"
ALL_WORDS = ("all", "全体成员")
AT_SIGNS = ("@", "\uff20")  # and the fullwidth at sign of Chinese and Japanese input methods
_EMAIL_LOCAL = frozenset("._%+-")


def has_at(content: str) -> bool:
    """Whether the text could mention anyone (a message without '@' costs nothing more)."""
    return any(sign in content for sign in AT_SIGNS)


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


@dataclass
class ChatNames:
    """The names a chat's members can be called by: {length: {folded name: {user ids}}}; and
    which of the senders asked about each member blocked, {(member, sender)}: their mentions of
    that member count for nothing (accounts.blocking)."""

    by_length: dict[int, dict[str, set[int]]] = field(default_factory=lambda: defaultdict(dict))
    blocked: set[tuple[int, int]] = field(default_factory=set)

    def add(self, name: str, user_id: int) -> None:
        name = name.strip()
        if name:
            self.by_length[len(name)].setdefault(name.casefold(), set()).add(user_id)

    def lengths(self) -> list[int]:
        return sorted(self.by_length, reverse=True)


def chat_names(chat_ids: Iterable[int], senders: Iterable[int] = ()) -> dict[int, ChatNames]:
    """The names of every member of these chats (username, nickname, card), and which of these
    senders each blocked, with one query."""
    chat_ids, senders = list(chat_ids), list(senders)
    names: dict[int, ChatNames] = defaultdict(ChatNames)
    if not chat_ids:
        return names
    blocks = (
        f" LEFT JOIN {Block._meta.db_table} b ON b.blocker_id = cm.user_id"
        f" AND b.blocked_id IN ({sql.placeholders(len(senders))})"
        if senders
        else ""
    )
    statement = (
        f"SELECT cm.chat_id, cm.user_id, {'b.blocked_id' if senders else 'NULL'}, u.username, u.nickname,"  # noqa: S608
        f" cm.card FROM {ChatMember._meta.db_table} cm JOIN {User._meta.db_table} u ON u.id = cm.user_id"
        f"{blocks} WHERE cm.chat_id IN ({sql.placeholders(len(chat_ids))})"
    )
    for chat_id, user_id, blocked, *member_names in sql.fetch_all(statement, [*senders, *chat_ids]):
        for name in member_names:
            names[chat_id].add(name or "", user_id)
        if blocked is not None:
            names[chat_id].blocked.add((user_id, blocked))
    return names


def may_mention_all(role: str, group_allows: bool | None) -> bool:
    """Owners and admins may use @all in a group; plain members where the group allows it."""
    return group_allows is not None and (role in (Role.OWNER, Role.ADMIN) or group_allows)


def _ends_well(name: str, content: str, end: int) -> bool:
    """Whether the name may end at content[end] (see the module's docstring)."""
    if end == len(content) or _wide(name[-1]) or not _word(name[-1]):
        return True
    if _word(content[end]):
        return False
    return not (content[end] in ".-" and end + 1 < len(content) and _word(content[end + 1]))


def _opens(content: str, at: int) -> bool:
    """An '@' opens a mention unless it is inside a word (a@b.com), CJK text before it aside."""
    if at == 0:
        return True
    before = content[at - 1]
    return not (before in _EMAIL_LOCAL or (_word(before) and not _wide(before)))


def _match(content: str, start: int, names: ChatNames, lengths: list[int], all_ok: bool) -> set[int | str]:
    for length in lengths:
        candidate = content[start : start + length]
        if len(candidate) < length or not _ends_well(candidate, content, start + length):
            continue
        folded = candidate.casefold()
        if folded in ALL_WORDS:
            return {ALL} if all_ok else set()  # reserved: never a member called "all"
        users = names.by_length.get(length, {}).get(folded)
        if users:
            return set(users)
    return set()


def parse_mentions(content: str, names: ChatNames, sender_id: int, all_ok: bool) -> list[int | str] | None:
    """Message.mentions of this text (see the module's docstring): sorted ids, "all" first; None."""
    if not has_at(content):
        return None
    lengths = sorted({*names.lengths(), *(len(word) for word in ALL_WORDS)}, reverse=True)
    found: set[int | str] = set()
    for at, char in enumerate(content):
        if char in AT_SIGNS and _opens(content, at):
            found |= _match(content, at + 1, names, lengths, all_ok)
    found.discard(sender_id)
    if not found:
        return None
    ids = sorted(m for m in found if isinstance(m, int))
    return [ALL, *ids] if ALL in found else ids


def mentioned_users(
    mentions: list[int | str] | None, members: Iterable[int], sender_id: int | None
) -> set[int]:
    """The members a message's mentions reach: those named, or everyone but the sender for @all."""
    if not mentions:
        return set()
    if ALL in mentions:
        return set(members) - {sender_id}
    return set(mentions) & set(members)


def unread_mentions_add(counts: dict[tuple[int, int], int]) -> None:
    """Raise members' unread mention counts, {(chat id, user id): by how much}, in one UPDATE."""
    if not counts:
        return
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)  # (chat, by) -> users
    for (chat_id, user_id), by in counts.items():
        groups[chat_id, by].append(user_id)
    whens = [
        When(Q(chat_id=chat_id, user_id__in=users), then=Value(by)) for (chat_id, by), users in groups.items()
    ]
    ChatMember.objects.filter(reduce(operator.or_, (when.condition for when in whens))).update(
        unread_mentions=F("unread_mentions") + Case(*whens, default=Value(0))
    )


def unread_mentions_recount(member: ChatMember, count: int) -> int:
    """Set a member's unread mention count (now `count`) to the messages after their read position
    (sent since they joined, not deleted, not their own) that mention them or everyone, and return
    it. Call with the member's row locked (message_read has just updated it), so that no send's
    count slips in between."""
    rows = Message.objects.filter(
        chat_id=member.chat_id,
        id__gt=member.last_read_message_id,
        created_at__gte=member.joined_at,
        deleted_at__isnull=True,
        mentions__isnull=False,
    ).exclude(sender_id=member.user_id)
    mentions = rows.values_list("mentions", flat=True)
    unread = sum(1 for named in mentions if member.user_id in named or ALL in named)
    if unread != count:
        ChatMember.objects.filter(pk=member.pk).update(unread_mentions=unread)
    return unread


def message_mentions(content: str, chat_id: int, sender_id: int, role: str) -> list[int | str] | None:
    """The mentions of one message's text (an edit): the chat's names and the group's @all rule
    are read only when the text has an '@'."""
    if not has_at(content):
        return None
    allows = Group.objects.filter(pk=chat_id).values_list("members_mention_all", flat=True).first()
    names = chat_names([chat_id])[chat_id]
    return parse_mentions(content, names, sender_id, may_mention_all(role, allows))


def unread_mentions_moved(message: Message, before: list[int | str] | None, members: set[int]) -> None:
    """A message's mentions changed from `before` to message.mentions (edited, or deleted: None):
    each member it now reaches, or no longer reaches, counts it one more, or one less, if it is
    still unread for them and was sent after they joined."""
    now_reached = (
        set() if message.deleted_at else mentioned_users(message.mentions, members, message.sender_id)
    )
    was_reached = mentioned_users(before, members, message.sender_id)
    unread = ChatMember.objects.filter(
        chat_id=message.chat_id, last_read_message_id__lt=message.pk, joined_at__lte=message.created_at
    )
    if now_reached - was_reached:
        unread.filter(user_id__in=now_reached - was_reached).update(unread_mentions=F("unread_mentions") + 1)
    if was_reached - now_reached:
        unread.filter(user_id__in=was_reached - now_reached, unread_mentions__gt=0).update(
            unread_mentions=F("unread_mentions") - 1
        )
