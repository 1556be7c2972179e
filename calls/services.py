"""Call signalling and the call state machine. The server relays SDP and ICE between the two
parties' connections and keeps each call's state; media never passes through it.

ringing --answer--> active --end--> ended (answered)
ringing --end / timeout / connection_lost--> ended (missed | rejected)
offer to someone offline or busy --> ended at once (missed | busy)
"""

import secrets
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import presence
from accounts.access import blocked_refusal, require_active
from accounts.models import Friendship, User
from accounts.selectors import is_blocked_between
from chats.models import Chat
from imsuite import sql
from imsuite.errors import DomainError, ErrorCode, not_found, permission_denied, validation_error
from imsuite.events import publish
from imsuite.ratelimit import rate_limit_named

from .models import Call

LIVE = (Call.State.RINGING, Call.State.ACTIVE)
# What a party may say when it hangs up. The server's own reasons (unavailable, busy, timeout,
# answered_elsewhere, connection_lost) are never accepted from a client.
CLIENT_REASONS = ("user_hangup", "rejected", "cancelled", "failed")


def _limits() -> dict[str, Any]:
    return settings.IMSUITE


def _new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def _check_sdp(sdp: Any) -> str:
    if not isinstance(sdp, str) or not sdp:
        raise validation_error("sdp", "invalid", "sdp is a non-empty string.")
    if len(sdp.encode()) > _limits()["CALL_SDP_MAX_BYTES"]:
        raise validation_error("sdp", "too_long", "sdp is at most 64 KiB.")
    return sdp


def _check_candidates(candidates: Any) -> list[Any]:
    if candidates is None:
        return []
    if not isinstance(candidates, list) or not all(isinstance(c, dict) for c in candidates):
        raise validation_error("ice_candidates", "invalid", "ice_candidates is a list of objects.")
    if len(candidates) > _limits()["CALL_MAX_ICE_CANDIDATES"]:
        raise validation_error("ice_candidates", "too_many", "At most 50 ICE candidates in one frame.")
    return candidates


def _may_call(caller: User, callee: User) -> bool:
    """Friends, or the two people of a private chat."""
    low, high = sorted((caller.pk, callee.pk))
    return (
        Friendship.objects.filter(user=caller, friend=callee).exists()
        or Chat.objects.filter(private_key=f"{low}:{high}").exists()
    )


def _in_call(user_id: int) -> bool:
    return Call.objects.filter(Q(caller_id=user_id) | Q(callee_id=user_id), state__in=LIVE).exists()


def _end_payload(call: Call, reason: str) -> dict[str, Any]:
    return {
        "call_id": call.call_id,
        "from_user": call.caller_id,
        "to_user": call.callee_id,
        "reason": reason,
        "duration": call.duration,
        "ended_at": call.ended_at,
    }


def _finish(call: Call, reason: str, now: datetime, outcome: str, tell_callee: bool = True) -> None:
    """Store the end of a call and tell both parties (the callee's answering device only, once
    another device of theirs has answered; not at all when the call never rang for them)."""
    call.state = Call.State.ENDED
    call.ended_at = now
    call.end_reason = reason
    call.outcome = Call.Outcome.ANSWERED if call.answered_at else outcome
    call.duration = int((now - call.answered_at).total_seconds()) if call.answered_at else 0
    call.save(update_fields=["state", "ended_at", "end_reason", "outcome", "duration"])
    data = _end_payload(call, reason)
    publish("call.end", {call.caller_id}, data)
    if tell_callee:
        callee_only = [call.callee_channel] if call.answered_at and call.callee_channel else None
        publish("call.end", {call.callee_id}, data | {"only_channels": callee_only})


def call_offer(
    *, actor: User, to_user: int, call_type: str, sdp: Any, ice_candidates: Any = None, channel: str = ""
) -> Call:
    """Ring a friend or private-chat peer. Someone offline or already in a call ends the call at once
    (unavailable / busy); the caller learns the call_id from call.status or call.end. Every offer
    counts against RATE_LIMIT_CALLS. Refused (blocked) when either of the two blocked the other."""
    rate_limit_named("CALLS", actor.pk)
    if call_type not in Call.Type.values:
        raise validation_error("call_type", "choice", "call_type is audio or video.")
    sdp = _check_sdp(sdp)
    candidates = _check_candidates(ice_candidates)
    callee = User.objects.filter(pk=to_user, is_active=True).first()
    if callee is None or callee.pk == actor.pk or not _may_call(actor, callee):
        raise permission_denied("not_friends", "You can call friends and private-chat peers only.")
    if is_blocked_between(actor.pk, callee.pk):
        raise blocked_refusal()
    if _in_call(actor.pk):
        raise DomainError(ErrorCode.CONFLICT, "You are already in a call.", {"reason": "in_call"})
    now = timezone.now()
    with transaction.atomic():
        require_active(actor)
        call = Call.objects.create(
            call_id=_new_call_id(), caller=actor, callee=callee, call_type=call_type, caller_channel=channel
        )
        if not presence.is_online(callee.pk):
            _finish(call, "unavailable", now, Call.Outcome.MISSED, tell_callee=False)
        elif _in_call_other_than(callee.pk, call.pk):
            _finish(call, "busy", now, Call.Outcome.BUSY, tell_callee=False)
        else:
            offer = {
                "call_id": call.call_id,
                "from_user": actor.pk,
                "to_user": callee.pk,
                "call_type": call_type,
                "sdp": sdp,
                "ice_candidates": candidates,
                "created_at": call.created_at,
            }
            publish("call.offer", {callee.pk}, offer)
            publish(
                "call.status",
                {actor.pk},
                {"call_id": call.call_id, "status": "ringing", "to_user": callee.pk},
            )
    return call


def _in_call_other_than(user_id: int, call_pk: int) -> bool:
    return (
        Call.objects.filter(Q(caller_id=user_id) | Q(callee_id=user_id), state__in=LIVE)
        .exclude(pk=call_pk)
        .exists()
    )


def _access_call(actor: User, call_id: Any) -> Call:
    """The live-or-ended call the actor takes part in, locked; NOT_FOUND for anyone else."""
    if not isinstance(call_id, str):
        raise validation_error("call_id", "invalid", "call_id is a string.")
    call = Call.objects.select_for_update().filter(call_id=call_id).first()
    if call is None or actor.pk not in (call.caller_id, call.callee_id):
        raise not_found("Call")
    require_active(actor)
    return call


def _conflict(call: Call, action: str) -> DomainError:
    return DomainError(
        ErrorCode.CONFLICT,
        f"A call that is {call.state} cannot be {action}.",
        {"reason": call.state, "state": call.state},
    )


def call_answer(
    *, actor: User, call_id: Any, sdp: Any, ice_candidates: Any = None, channel: str = ""
) -> Call:
    """The callee answers from one device; the caller gets call.answer, the callee's other devices
    stop ringing (call.end answered_elsewhere)."""
    sdp = _check_sdp(sdp)
    candidates = _check_candidates(ice_candidates)
    with transaction.atomic():
        call = _access_call(actor, call_id)
        if call.callee_id != actor.pk:
            raise permission_denied("not_callee", "Only the person called can answer.")
        if call.state != Call.State.RINGING:
            raise _conflict(call, "answered")
        call.state = Call.State.ACTIVE
        call.answered_at = timezone.now()
        call.callee_channel = channel
        call.save(update_fields=["state", "answered_at", "callee_channel"])
        answer = {
            "call_id": call.call_id,
            "from_user": call.callee_id,
            "to_user": call.caller_id,
            "sdp": sdp,
            "ice_candidates": candidates,
            "answered_at": call.answered_at,
        }
        publish("call.answer", {call.caller_id}, answer | {"only_channels": _channels(call.caller_channel)})
        # For the other devices the ringing ended at the answer (call.end always carries ended_at).
        elsewhere = _end_payload(call, "answered_elsewhere") | {
            "ended_at": call.answered_at,
            "origin": channel,
        }
        publish("call.end", {call.callee_id}, elsewhere)
    return call


def _channels(channel: str) -> list[str] | None:
    """Signalling for one known device; None (all devices) when it is not known."""
    return [channel] if channel else None


def call_ice(*, actor: User, call_id: Any, ice_candidate: Any, channel: str = "") -> None:
    """Relay one ICE candidate to the other party only (its answering/offering device once known)."""
    if not isinstance(ice_candidate, dict):
        raise validation_error("ice_candidate", "invalid", "ice_candidate is an object.")
    with transaction.atomic():
        call = _access_call(actor, call_id)
        if call.state == Call.State.ENDED:
            raise _conflict(call, "signalled")
        caller_side = actor.pk == call.caller_id
        other, other_channel = (
            (call.callee_id, call.callee_channel) if caller_side else (call.caller_id, call.caller_channel)
        )
        data = {
            "call_id": call.call_id,
            "from_user": actor.pk,
            "to_user": other,
            "ice_candidate": ice_candidate,
        }
        publish("call.ice", {other}, data | {"only_channels": _channels(other_channel)})


def call_end(*, actor: User, call_id: Any, reason: Any = "user_hangup", channel: str = "") -> Call:
    """Either party hangs up; the callee may reject a ringing call with reason "rejected"."""
    if reason not in CLIENT_REASONS:
        raise validation_error("reason", "invalid", f"reason is one of {', '.join(CLIENT_REASONS)}.")
    with transaction.atomic():
        call = _access_call(actor, call_id)
        if call.state == Call.State.ENDED:
            raise _conflict(call, "ended")
        rejected = reason == "rejected" and actor.pk == call.callee_id and call.state == Call.State.RINGING
        _finish(call, reason, timezone.now(), Call.Outcome.REJECTED if rejected else Call.Outcome.MISSED)
    return call


def calls_expire(*, now: datetime | None = None) -> int:
    """End calls nobody answered within CALL_RING_SECONDS (timeout) and calls a party left for longer
    than CALL_GRACE_SECONDS (connection_lost). Run by the timers."""
    now = now or timezone.now()
    ring_deadline = now - timedelta(seconds=_limits()["CALL_RING_SECONDS"])
    grace_deadline = now - timedelta(seconds=_limits()["CALL_GRACE_SECONDS"])
    due = Call.objects.filter(
        Q(state=Call.State.RINGING, created_at__lte=ring_deadline)
        | Q(state__in=LIVE, caller_lost_at__lte=grace_deadline)
        | Q(state__in=LIVE, callee_lost_at__lte=grace_deadline)
    ).values_list("pk", flat=True)
    ended = 0
    for pk in list(due):
        with transaction.atomic():
            call = Call.objects.select_for_update().filter(pk=pk, state__in=LIVE).first()
            if call is None:
                continue  # another timer or a party got there first
            lost = any(t and t <= grace_deadline for t in (call.caller_lost_at, call.callee_lost_at))
            _finish(call, "connection_lost" if lost else "timeout", now, Call.Outcome.MISSED)
            ended += 1
    return ended


_LIVE_SQL = ", ".join(f"'{state}'" for state in LIVE)


@lru_cache(maxsize=128)
def _parties_left_sql(count: int) -> str:
    users = sql.placeholders(count)
    return (
        f"UPDATE {Call._meta.db_table} SET"  # noqa: S608  (our table name; values are parameters)
        f" caller_lost_at = CASE WHEN caller_id IN ({users}) AND caller_lost_at IS NULL THEN %s"
        " ELSE caller_lost_at END,"
        f" callee_lost_at = CASE WHEN callee_id IN ({users}) AND callee_lost_at IS NULL THEN %s"
        " ELSE callee_lost_at END"
        f" WHERE state IN ({_LIVE_SQL}) AND ((caller_id IN ({users}) AND caller_lost_at IS NULL)"
        f" OR (callee_id IN ({users}) AND callee_lost_at IS NULL))"
    )


# Whether a live call waits for the user of row `u` to come back: every connection opening asks,
# with its user row (accounts.sessions.open_session).
PARTY_WAITING_OF_U = (
    f"EXISTS (SELECT 1 FROM {Call._meta.db_table} c WHERE c.state IN ({_LIVE_SQL})"  # noqa: S608
    " AND ((c.caller_id = u.id AND c.caller_lost_at IS NOT NULL)"
    " OR (c.callee_id = u.id AND c.callee_lost_at IS NOT NULL)))"
)
_PARTY_WAITING_SQL = f"SELECT {PARTY_WAITING_OF_U} FROM {User._meta.db_table} u WHERE u.id = %s"  # noqa: S608


def call_party_left(*, user: User, now: datetime | None = None) -> None:
    """The user's last connection closed (call_parties_left for one)."""
    call_parties_left(users=[user], now=now)


def call_parties_left(*, users: list[User], now: datetime | None = None) -> None:
    """These users' last connections closed: their live calls start the grace period. Every last
    connection closing runs this, so it is one constant statement (imsuite.sql), for all the users
    of connections closing together."""
    lost = sql.moment(now or timezone.now())
    ids = [user.pk for user in users]
    sql.execute(_parties_left_sql(len(ids)), [*ids, lost, *ids, lost, *ids, *ids])


def call_party_returned(*, user: User, channel: str, waiting: bool | None = None) -> None:
    """The user reconnected within the grace period: the call resumes from the new connection.
    `waiting` is PARTY_WAITING_OF_U if the caller read it with the user's row (a connection
    opening does): the common answer, no call waiting, then costs nothing more."""
    if waiting is None:
        waiting = bool(sql.fetch_value(_PARTY_WAITING_SQL, [user.pk]))
    if not waiting:
        return
    with transaction.atomic():  # a call resumed from either side, or not at all
        Call.objects.filter(caller=user, state__in=LIVE, caller_lost_at__isnull=False).update(
            caller_lost_at=None, caller_channel=channel
        )
        Call.objects.filter(callee=user, state=Call.State.ACTIVE, callee_lost_at__isnull=False).update(
            callee_lost_at=None, callee_channel=channel
        )
        Call.objects.filter(callee=user, state=Call.State.RINGING, callee_lost_at__isnull=False).update(
            callee_lost_at=None
        )
