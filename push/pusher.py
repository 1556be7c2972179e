"""The pusher: tells the devices of people who are not connected about new messages. It runs in the
timers process (runtimers, once a tick), never on the send path: a send only stores its message, and
the pusher reads the new ones afterwards by their seq.

Each tick it
1. takes the results of the pushes that finished since the last tick (success clears a device's
   record, 404/410 removes it, anything else backs off and keeps the payload for the retry);
2. reads the messages created since its cursor (PushState.seq), a bounded batch, in order, and for
   each recipient (the chat's members with a device, but the sender, bots and those who blocked the
   sender) counts it towards a push if the member's notify setting lets it through (mentions-only:
   only messages that mention them or @all; muted: nothing);
3. sends what is due: at most one push per person and chat every PUSH_COALESCE_SECONDS (the first at
   once, the next with the count of messages since), and none to a person with a live presence lease
   (connected: the message reached them); and the payloads of devices whose backoff is over.
Requests run in a small thread pool, each with its timeout: a slow endpoint holds one thread, never
the tick, another device, or a message. A device has one request in flight at a time; what comes
for it meanwhile waits (the latest per chat).

The cursor moves past a batch when its messages are counted; counts waiting out their coalescing
window are this process's (a restart loses at most that window's pushes). Several copies may run:
the cursor row is locked while a batch is read, so each message is counted by one of them."""

import logging
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from accounts.presence import online_user_ids
from accounts.selectors import blocked_pairs
from chats.models import Chat, ChatMember, Message, Notify
from chats.selectors import current_seq, notify_level

from . import services
from .models import PushState, PushSubscription
from .senders import Delivery, sender_for

logger = logging.getLogger(__name__)
BATCH = 500  # messages read per tick at most
TEXT_MAX = 500  # characters of the message in a push (UnifiedPush and Web Push take about 4 KB)


def is_mentioned(message: Message, user_id: int) -> bool:
    mentions = message.mentions or []  # null: nobody
    return "all" in mentions or user_id in mentions


@dataclass
class _Pending:
    """The messages of one chat counted for one person since their last push."""

    message: Message  # the latest
    count: int = 0
    mentioned: bool = False


def _name(user: object) -> str:
    return (user.nickname or user.username) if user is not None else ""  # type: ignore[attr-defined]


def payload_for(subscription: PushSubscription, pending: _Pending) -> dict:
    message = pending.message
    chat = message.chat
    payload = {
        "type": "message",
        "chat_id": message.chat_id,
        # a private chat is called by the other person's name: the sender's, for the recipient
        "chat_title": chat.group.name if chat.type == Chat.Type.GROUP else _name(message.sender),
        "sender_name": _name(message.sender),
        "count": pending.count,
        "message_id": message.pk,
        "mentioned": pending.mentioned,
    }
    if subscription.previews and settings.IMSUITE["PUSH_PREVIEWS"]:
        payload["text"] = message.content[:TEXT_MAX] or f"[{message.message_type}]"
    return payload


def _deliver(subscription: PushSubscription, payload: dict) -> Delivery:
    """One request, in a worker thread. A sender's bug is a failed push, not a lost thread."""
    try:
        return sender_for(subscription.kind).deliver(subscription, payload)
    except Exception as exc:
        logger.exception("push: the %s sender failed", subscription.kind)
        return Delivery("retry", f"{type(exc).__name__}: {exc}"[:300])
    finally:
        connections.close_all()  # a sender that read the database (a key) leaves no connection open


class Pusher:
    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._floor: tuple[int, int] | None = None  # (cursor, id): messages up to this id are counted
        self._pending: dict[tuple[int, int], _Pending] = {}  # (user, chat) -> counted, not pushed
        self._last_push: dict[tuple[int, int], datetime] = {}
        self._inflight: dict[Future, tuple[PushSubscription, dict]] = {}
        self._waiting: dict[int, dict[int, dict]] = {}  # subscription -> chat -> latest payload

    def tick(self, now: datetime | None = None) -> int:
        """One round (see the module's doc); returns how many requests it started."""
        now = now or timezone.now()
        done = self._harvest(now)
        self._read_messages(now)
        started = self._retry_due(now) + self._push_due(now)
        if started or done:
            logger.info(
                "push: %d sent; finished %d ok, %d to retry, %d gone",
                started,
                done["ok"],
                done["retry"],
                done["gone"],
            )
        return started

    def drain(self, timeout: float, now: datetime | None = None) -> None:
        """Wait (at most `timeout` s) for the requests in flight and take their results."""
        wait(list(self._inflight), timeout=timeout)
        self._harvest(now or timezone.now())

    # ---- reading messages ------------------------------------------------------------------

    def _read_messages(self, now: datetime) -> None:
        with transaction.atomic():
            state = PushState.objects.select_for_update(skip_locked=True).filter(pk=1).first()
            if state is None:  # another copy is reading, or the first tick ever: start from now
                PushState.objects.get_or_create(pk=1, defaults={"seq": current_seq()})
                return
            upto = current_seq()  # every message up to it is committed (seq order is commit order)
            if upto <= state.seq:
                return
            # Ids are taken after the seqs, under the counter's lock: id order is created_seq order,
            # so the primary key finds the new messages without an index on seq.
            floor = self._floor_at(state.seq)
            rows = list(
                Message.objects.filter(pk__gt=floor, created_seq__gt=state.seq, created_seq__lte=upto)
                .select_related("chat__group", "sender")
                .order_by("pk")[:BATCH]
            )
            self._count(rows, now)
            state.seq = rows[-1].created_seq if len(rows) == BATCH else upto
            self._floor = (state.seq, rows[-1].pk if rows else floor)
            state.save(update_fields=["seq"])

    def _floor_at(self, seq: int) -> int:
        """The id of the newest message created up to `seq` (0: none): known from the last round,
        or looked up (this process's first round, or another copy moved the cursor since)."""
        if self._floor is not None and self._floor[0] == seq:
            return self._floor[1]
        last = Message.objects.filter(created_seq__lte=seq).order_by("-pk").values("pk").first()
        return last["pk"] if last else 0

    def _count(self, rows: list[Message], now: datetime) -> None:
        rows = [m for m in rows if m.deleted_at is None and m.message_type != Message.Type.SYSTEM]
        if not rows:
            return
        members = defaultdict(list)  # chat -> its members who have a device
        for member in ChatMember.objects.filter(
            chat_id__in={m.chat_id for m in rows},
            user__is_bot=False,
            user__is_active=True,
            user_id__in=PushSubscription.objects.values("user_id"),
        ).only("chat", "user", "notify", "notify_until"):
            members[member.chat_id].append(member)
        blocked = blocked_pairs(
            {m.user_id for chat in members.values() for m in chat}, {m.sender_id for m in rows}
        )
        for message in rows:
            for member in members[message.chat_id]:
                if member.user_id == message.sender_id or (member.user_id, message.sender_id) in blocked:
                    continue
                mentioned = is_mentioned(message, member.user_id)
                level = notify_level(member, now)
                if level == Notify.MUTED or (level == Notify.MENTIONS and not mentioned):
                    continue
                pending = self._pending.setdefault((member.user_id, message.chat_id), _Pending(message))
                pending.message, pending.count = message, pending.count + 1
                pending.mentioned = pending.mentioned or mentioned

    # ---- sending ---------------------------------------------------------------------------

    def _push_due(self, now: datetime) -> int:
        window = timedelta(seconds=settings.IMSUITE["PUSH_COALESCE_SECONDS"])
        self._last_push = {key: at for key, at in self._last_push.items() if now - at < window}
        due = [key for key in self._pending if key not in self._last_push]
        if not due:
            return 0
        people = {user_id for user_id, _ in due}
        online = online_user_ids(people)  # connected: the messages reached them
        devices = defaultdict(list)
        for subscription in PushSubscription.objects.filter(user_id__in=people - online).order_by("pk"):
            devices[subscription.user_id].append(subscription)
        started = 0
        for key in due:
            pending = self._pending.pop(key)
            if key[0] in online:
                continue
            self._last_push[key] = now
            for subscription in devices[key[0]]:
                started += self._send(subscription, payload_for(subscription, pending), now)
        return started

    def _send(self, subscription: PushSubscription, payload: dict, now: datetime) -> int:
        if subscription.pk in self._busy():
            self._waiting.setdefault(subscription.pk, {})[payload["chat_id"]] = payload
            return 0
        if subscription.retry_at is not None and subscription.retry_at > now:  # backing off
            PushSubscription.objects.filter(pk=subscription.pk).update(retry_payload=payload)
            return 0
        self._start(subscription, payload)
        return 1

    def _retry_due(self, now: datetime) -> int:
        due = PushSubscription.objects.filter(retry_at__lte=now, retry_payload__isnull=False)
        due = due.exclude(pk__in=self._busy())
        started = 0
        for subscription in due:
            self._start(subscription, subscription.retry_payload)
            started += 1
        return started

    def _busy(self) -> set[int]:
        """The subscriptions with a request in flight."""
        return {subscription.pk for subscription, _ in self._inflight.values()}

    def _start(self, subscription: PushSubscription, payload: dict) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(settings.IMSUITE["PUSH_THREADS"], thread_name_prefix="push")
        self._inflight[self._pool.submit(_deliver, subscription, payload)] = (subscription, payload)

    def _harvest(self, now: datetime) -> Counter:
        results, following = [], []
        for future in [f for f in self._inflight if f.done()]:
            subscription, payload = self._inflight.pop(future)
            delivery = future.result()
            waiting = list(self._waiting.pop(subscription.pk, {}).values())
            if delivery.status == "retry" and waiting:
                payload = waiting[-1]  # only the latest is tried again
            results.append((subscription, delivery, payload))
            if delivery.status == "ok" and waiting:
                following.append((subscription, waiting))
        if results:
            services.subscriptions_delivered(results=results, now=now)
        for subscription, waiting in following:  # the next of what waited for these devices
            self._start(subscription, waiting[0])
            if waiting[1:]:
                self._waiting[subscription.pk] = {p["chat_id"]: p for p in waiting[1:]}
        return Counter(delivery.status for _, delivery, _ in results)


PUSHER = Pusher()  # this process's pusher (runtimers)
