"""Reads about chats shared by the REST views, the WebSocket consumer and the services."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_ref
from imsuite import sql
from imsuite.errors import not_found

from .events import message_data, message_for_viewer
from .models import Chat, ChatMember, Membership, Message, Notify, SeqCounter

SYNC_BATCH = 500


def chat_ref(chat: Chat) -> dict[str, Any]:
    """{id, type, title} with, for a private chat, each member's view of the title (the other
    person's nickname), so the event is built once and rendered per viewer."""
    return chat_refs([chat])[chat.pk]


def chat_refs(chats: Iterable[Chat]) -> dict[int, dict[str, Any]]:
    """chat_ref of many chats with one query for all the private chats' members (a group's name
    comes with the chat when it was loaded with select_related("group"))."""
    return refs_of_kinds(kinds_of(chats))


def kinds_of(chats: Iterable[Chat]) -> dict[int, tuple[str, str | None]]:
    """{id: (type, group name)} of chats loaded with select_related("group")."""
    return {chat.pk: (chat.type, chat.group.name if chat.type == Chat.Type.GROUP else None) for chat in chats}


def refs_of_kinds(kinds: dict[int, tuple[str, str | None]]) -> dict[int, dict[str, Any]]:
    """chat_ref of chats given as {id: (type, group name)}."""
    private = [pk for pk, (kind, _) in kinds.items() if kind == Chat.Type.PRIVATE]
    people: dict[int, list[tuple[int, str]]] = defaultdict(list)  # chat -> [(user id, display name)]
    if private:
        for chat_id, user_id, nickname, username in ChatMember.objects.filter(
            chat_id__in=private
        ).values_list("chat_id", "user_id", "user__nickname", "user__username"):
            people[chat_id].append((user_id, nickname or username))
    return _refs(kinds, people)


def _refs(
    kinds: dict[int, tuple[str, str | None]], people: dict[int, list[tuple[int, str]]]
) -> dict[int, dict[str, Any]]:
    refs = {}
    for pk, (kind, name) in kinds.items():
        if kind == Chat.Type.GROUP:
            refs[pk] = {"id": pk, "type": kind, "title": name}
            continue
        members = people[pk]
        titles = {str(me): next((o for uid, o in members if uid != me), mine) for me, mine in members}
        refs[pk] = {"id": pk, "type": kind, "title": None, "titles": titles}
    return refs


def title_for(ref: dict[str, Any], viewer_id: int) -> str | None:
    """A chat_ref's title as one viewer sees it (a private chat: the other person's name)."""
    return ref["titles"].get(str(viewer_id)) if "titles" in ref else ref["title"]


def _members_sql(count: int) -> str:
    """Every member of `count` chats, with the display name of a private chat's members."""
    member, chat, user = ChatMember._meta.db_table, Chat._meta.db_table, User._meta.db_table
    return (
        f"SELECT cm.chat_id, cm.user_id, u.nickname, u.username FROM {member} cm"  # noqa: S608  (our tables)
        f" JOIN {chat} c ON c.id = cm.chat_id"
        f" LEFT JOIN {user} u ON c.type = '{Chat.Type.PRIVATE}' AND u.id = cm.user_id"
        f" WHERE cm.chat_id IN ({sql.placeholders(count)})"
    )


def refs_and_audiences(
    kinds: dict[int, tuple[str, str | None]],
) -> tuple[dict[int, dict[str, Any]], dict[int, set[int]]]:
    """chat_ref and the members of chats given as {id: (type, group name)}, with one constant
    statement (a send batch reads both for every chat it writes to; the ORM compiled two queries
    per batch)."""
    if not kinds:
        return {}, {}
    audiences: dict[int, set[int]] = defaultdict(set)
    people: dict[int, list[tuple[int, str]]] = defaultdict(list)  # private chat -> [(user id, display name)]
    for chat_id, user_id, nickname, username in sql.fetch_all(_members_sql(len(kinds)), list(kinds)):
        audiences[chat_id].add(user_id)
        if username is not None:
            people[chat_id].append((user_id, nickname or username))
    return _refs(kinds, people), audiences


def message_event_data(message: Message, chat: dict[str, Any] | None = None) -> dict[str, Any]:
    """The data of a message.new / message.edit event."""
    return {
        "seq": message.seq,
        "message": message_data(message),
        "chat": chat or chat_ref(message.chat),
        "sender": user_ref(message.sender),
    }


def read_back_data(chat: Chat, messages: list[Message]) -> list[dict[str, Any]]:
    """message_event_data of messages read back rather than sent (a bot's get_msg and get_history),
    with each sender's profile and standing in the chat (sender_profile): two queries for a page."""
    senders = User.objects.in_bulk({m.sender_id for m in messages if m.sender_id is not None})
    standing = {m.user_id: m for m in ChatMember.objects.filter(chat_id=chat.pk, user_id__in=senders)}
    ref = chat_ref(chat)
    out = []
    for message in messages:
        message.sender = senders.get(message.sender_id)
        profile = sender_profile(message.sender, standing.get(message.sender_id))
        out.append(message_event_data(message, ref) | {"sender_profile": profile})
    return out


def private_key(user_a_id: int, user_b_id: int) -> str:
    """The private chat of two people is the one with this key."""
    low, high = sorted((user_a_id, user_b_id))
    return f"{low}:{high}"


def private_chat_id(user_a_id: int, user_b_id: int) -> int | None:
    """The private chat of two people, if they ever had one."""
    return (
        Chat.objects.filter(private_key=private_key(user_a_id, user_b_id))
        .values_list("pk", flat=True)
        .first()
    )


def message_delete_data(message: Message) -> dict[str, Any]:
    return {
        "seq": message.seq,
        "message_id": message.pk,
        "chat_id": message.chat_id,
        "sender_id": message.sender_id,
        "deleted_by": message.deleted_by_id,
        "deleted_at": message.deleted_at,
        "chat_type": message.chat.type,
    }


# The newest seq among the changes the user of row `u` may see (NULL before any): one index probe
# on (chat, seq) per chat, however long the histories. Every connection opening asks, with its
# user row (accounts.sessions.open_session).
LAST_SEQ_OF_U = (
    f"(SELECT MAX((SELECT m.seq FROM {Message._meta.db_table} m WHERE m.chat_id = cm.chat_id"  # noqa: S608
    f" ORDER BY m.seq DESC LIMIT 1)) FROM {ChatMember._meta.db_table} cm WHERE cm.user_id = u.id)"
)


def changes_since(
    user_id: int, after: int, upto: int | None = None, since: int | None = None, profiles: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """Up to SYNC_BATCH message changes the user may see with after < seq (<= upto), oldest first,
    each once in its latest state: deleted -> message.delete, created after `since` (the point the
    client synced from; defaults to `after`, which moves from batch to batch) -> message.new,
    otherwise message.edit. With `profiles` (a bot's replay), message.new carries the sender's
    `sender_profile` as the hub's copy does."""
    since = after if since is None else since
    rows = Message.objects.filter(chat__members__user_id=user_id, seq__gt=after)
    if upto is not None:
        rows = rows.filter(seq__lte=upto)
    rows = rows.select_related("chat", "chat__group", "sender").order_by("seq")[:SYNC_BATCH]
    rows = list(rows)
    refs = chat_refs(message.chat for message in rows if message.deleted_at is None)
    standing = _standing(rows) if profiles else {}
    changes = []
    for message in rows:
        if message.deleted_at is not None:
            changes.append(("message.delete", message_delete_data(message)))
            continue
        name = "message.new" if message.created_seq > since else "message.edit"
        data = message_event_data(message, refs[message.chat_id])
        if profiles and name == "message.new":
            data["sender_profile"] = _profile(message, standing)
        changes.append((name, data))
    return changes


def _standing(rows: list[Message]) -> dict[tuple[int, int], ChatMember]:
    """The senders' group standing in the rows' chats, for the bot protocol's sender object."""
    return {
        (member.chat_id, member.user_id): member
        for member in ChatMember.objects.filter(
            chat_id__in={message.chat_id for message in rows},
            user_id__in={message.sender_id for message in rows},
        )
    }


def _profile(message: Message, standing: dict[tuple[int, int], ChatMember]) -> dict[str, Any]:
    return sender_profile(message.sender, standing.get((message.chat_id, message.sender_id)))


class NotifySetting(Protocol):
    """A member's notification setting: a ChatMember row, or the two values read of one."""

    notify: str
    notify_until: datetime | None


def effective_notify(member: NotifySetting, now: datetime) -> tuple[str, datetime | None]:
    """(notify, until) as they hold at `now`: a setting whose until has come reads as "all" with
    no until. Expired settings are not reset in the database (nothing needs to: every reader goes
    through here), so they cost no timer and no event; clients apply the same rule to `until`."""
    notify, until = str(member.notify), member.notify_until
    if notify == Notify.ALL or (until is not None and until <= now):
        return Notify.ALL.value, None
    return notify, until


def notify_level(member: NotifySetting, now: datetime) -> str:
    """What the member is told of the chat's messages at `now`: "muted" nothing, "mentions" only
    messages that mention them or @all, "all" everything (the rule of push and desktop alerts)."""
    return effective_notify(member, now)[0]


def notify_data(chat_id: int, member: NotifySetting, now: datetime) -> dict[str, Any]:
    """The chat.notify event's data and the REST answer: {chat_id, notify, until}."""
    notify, until = effective_notify(member, now)
    return {"chat_id": chat_id, "notify": notify, "until": until}


def chat_list(user: User, chat_id: int | None = None) -> list[dict[str, Any]]:
    """The user's chats (or the one chat_id), newest activity first, with member count, last
    message, unread count (messages of others after the read position, deleted ones excluded),
    unread mention count (kept on the membership by sends, reads, edits and deletes) and the user's
    notification setting as it holds now; a private chat also names the other person and their
    read position."""
    memberships = ChatMember.objects.filter(user=user)
    if chat_id is not None:
        memberships = memberships.filter(chat_id=chat_id)
    memberships = memberships.select_related("chat", "chat__group").annotate(
        member_count=member_count("chat_id"),
        unread_count=Subquery(
            Message.objects.filter(chat_id=OuterRef("chat_id"), id__gt=OuterRef("last_read_message_id"))
            .filter(deleted_at__isnull=True)
            .filter(~Q(sender_id=user.pk))
            .values("chat_id")
            .annotate(n=Count("pk"))
            .values("n")[:1]
        ),
        last_message_id=Subquery(
            Message.objects.filter(chat_id=OuterRef("chat_id")).order_by("-id").values("id")[:1]
        ),
    )
    memberships = list(memberships)
    refs = chat_refs(member.chat for member in memberships)
    last = Message.objects.in_bulk([m.last_message_id for m in memberships if m.last_message_id])
    peers = {  # a private chat's other person, with how far they have read (the sender's read ticks)
        peer.chat_id: peer
        for peer in ChatMember.objects.filter(
            chat_id__in=[m.chat_id for m in memberships if m.chat.type == Chat.Type.PRIVATE]
        )
        .exclude(user=user)
        .select_related("user")
    }
    items = []
    now = timezone.now()
    for member in memberships:
        ref = refs[member.chat_id]
        notify, notify_until = effective_notify(member, now)
        message = last.get(member.last_message_id)
        peer = peers.get(member.chat_id)
        items.append(
            {
                "id": member.chat_id,
                "type": member.chat.type,
                "title": title_for(ref, user.pk),
                "member_count": member.member_count or 0,
                "unread_count": member.unread_count or 0,
                "unread_mention_count": member.unread_mentions,
                "last_read_message_id": member.last_read_message_id,
                "last_message": message_for_viewer(message_data(message), user.pk) if message else None,
                "last_activity_at": member.chat.last_message_at or member.chat.created_at,
                "peer": user_ref(peer.user) if peer else None,
                "peer_last_read_message_id": peer.last_read_message_id if peer else None,
                "last_delivered_message_id": member.last_delivered_message_id,
                # reading is receiving: a peer who read further than their devices acknowledged
                "peer_last_delivered_message_id": (
                    max(peer.last_delivered_message_id, peer.last_read_message_id) if peer else None
                ),
                "notify": notify,
                "notify_until": notify_until,
            }
        )
    items.sort(key=lambda item: item["last_activity_at"], reverse=True)
    return items


def _history_sql(with_before: bool) -> str:
    message, member, user = (connection.ops.quote_name(m._meta.db_table) for m in (Message, ChatMember, User))
    before = ' AND "id" < %s' if with_before else ""
    return (
        f"SELECT {sql.columns(Message, message)} FROM {message} WHERE EXISTS"  # noqa: S608  (our own SQL)
        f" (SELECT 1 FROM {member} JOIN {user} ON {user}.id = {member}.user_id"
        f" WHERE {member}.chat_id = %s AND {member}.user_id = %s AND {user}.is_active)"
        f" AND chat_id >= %s AND chat_id <= %s{before}"
        " ORDER BY chat_id DESC, id DESC LIMIT %s"
    )


HISTORY_SQL = {with_before: _history_sql(with_before) for with_before in (False, True)}


def history_page(
    chat_id: int, before: int | None, limit: int, member_id: int
) -> tuple[list[Message], int | None]:
    """One page of history, newest first, by keyset on (chat_id, id): the same cost at any depth.
    Returns the messages and the `before` cursor of the next (older) page, or None at the start.

    Rows come only if `member_id` is an active user and a member of the chat, checked in the same
    statement (one trip for the common case, and all chats.history_fast needs besides the token);
    an empty page leaves it to the caller to tell "no access" from "no older messages".

    The chat is matched as a range and the order names chat_id: with `chat_id = X ... ORDER BY id`
    PostgreSQL may walk the primary key backwards and filter, reading every newer message of every
    other chat (a quiet chat's page took 3.4 ms behind 10,000 newer messages elsewhere, and grows
    with them); only the (chat_id, id) index gives this order, 0.1 ms at any depth. The statement
    is written once rather than built by the ORM per request (2.0 instead of 4.3 ms a page), and
    its rows become messages without a RawQuerySet (0.65 -> 0.46 ms of CPU a page)."""
    params: list[int] = [chat_id, member_id, chat_id, chat_id]
    if before is not None:
        params.append(before)
    rows = sql.fetch_all(HISTORY_SQL[before is not None], [*params, limit + 1])
    page = sql.instances(Message, rows)
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].pk if more and page else None)


def history_around(chat_id: int, around: int, limit: int) -> tuple[list[Message], int | None, int | None]:
    """A page of `limit` messages centred on message `around` of the chat (newest first, as every
    history page): half older, half newer, the other side filling in where one runs out. Returns
    the page and the cursors to go on: `before` (older) and `after` (newer), None where nothing
    is left. NOT_FOUND if the chat holds no such message. The caller checks membership."""
    newer = list(
        Message.objects.filter(chat_id=chat_id, id__gte=around).order_by("chat_id", "id")[: limit + 1]
    )
    if not newer or newer[0].pk != around:
        raise not_found("Message")
    target, newer = newer[0], newer[1:]
    older = list(Message.objects.filter(chat_id=chat_id, id__lt=around).order_by("-chat_id", "-id")[:limit])
    others = limit - 1
    newer_taken = min(len(newer), max(others // 2, others - len(older)))
    older_taken = min(len(older), others - newer_taken)
    page = [*reversed(newer[:newer_taken]), target, *older[:older_taken]]
    next_before = page[-1].pk if len(older) > older_taken else None
    next_after = page[0].pk if len(newer) > newer_taken else None
    return page, next_before, next_after


def history_after(chat_id: int, after: int, limit: int) -> tuple[list[Message], int | None, int | None]:
    """The `limit` messages right after message id `after` (newest first), with the cursors: `before`
    is the page's oldest id (older ones exist: `after` itself), `after` its newest while newer remain."""
    newer = list(Message.objects.filter(chat_id=chat_id, id__gt=after).order_by("chat_id", "id")[: limit + 1])
    page = list(reversed(newer[:limit]))
    next_before = page[-1].pk if page else None
    next_after = page[0].pk if len(newer) > limit else None
    return page, next_before, next_after


def sender_profile(sender: User | None, member: Membership | None) -> dict[str, Any]:
    """What the bot protocol's sender object needs besides the client's: profile and group standing."""
    return {
        "sex": sender.sex if sender else "unknown",
        "age": (sender.age or 0) if sender else 0,
        "role": member.role if member else "member",
        "level": member.level if member else "0",
        "card": member.card if member else "",
    }


def member_count(chat_field: str) -> Subquery:
    """An annotation: how many members the chat named by the outer row's `chat_field` has."""
    members = ChatMember.objects.filter(chat_id=OuterRef(chat_field)).values("chat_id")
    return Subquery(members.annotate(n=Count("pk")).values("n")[:1])


def current_seq() -> int:
    """The highest seq handed out so far (0 before the first message)."""
    return SeqCounter.objects.filter(pk=1).values_list("value", flat=True).first() or 0


def changes_in_range(after: int, upto: int) -> list[tuple[str, dict[str, Any], list[int]]]:
    """Every message change with after < seq <= upto, all chats, in seq order, each with its audience
    (the chat's members): what the hub reads when the channel layer lost events. A change later
    superseded has the later seq and is not in the range."""
    rows = list(
        Message.objects.filter(seq__gt=after, seq__lte=upto)
        .select_related("chat", "chat__group", "sender")
        .order_by("seq")
    )
    refs, audiences = refs_and_audiences(kinds_of(message.chat for message in rows))
    standing = _standing(rows)
    changes = []
    for message in rows:
        audience = sorted(audiences.get(message.chat_id, ()))
        if message.deleted_at is not None:
            changes.append(("message.delete", message_delete_data(message), audience))
            continue
        data = message_event_data(message, refs[message.chat_id])
        name = "message.new" if message.created_seq == message.seq else "message.edit"
        if name == "message.new":
            data["sender_profile"] = _profile(message, standing)
        changes.append((name, data, audience))
    return changes
