"""Every change to accounts, friendships and bots. Adapters call these and nothing else."""

import contextlib
import hashlib
import logging
import re
import secrets
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache as shared_cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from imsuite import audit, redis_nodes, sql
from imsuite.errors import DomainError, ErrorCode, not_found, validation_error
from imsuite.events import DomainEvent, publish, publish_broadcast, publish_events
from imsuite.ip_networks import client_key
from imsuite.ratelimit import Backoff, backoff_cleared, backoff_failed, backoff_refusal, rate_limit_named
from media.avatars import avatar_replaced, avatar_stored

from . import presence
from .access import access_own_bot, access_user, blocked_refusal, require_active, require_moderator
from .email_addresses import check_email, send_verification
from .models import Block, BotToken, FriendRequest, Friendship, Notification, Sex, User, UserSession
from .selectors import is_blocked_between, user_ref
from .sessions import SID_CLAIM, refresh_tokens_by_session, revoke_session

logger = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
PROFILE_FIELDS = ("nickname", "avatar_url", "sex", "age", "bio")
BOT_TOKEN_PREFIX = "imb_"


def _check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username or ""):
        raise validation_error(
            "username", "format", "A username is 3 to 32 letters, digits, dots, dashes or underscores."
        )
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError(
            ErrorCode.CONFLICT, "This username is taken.", {"field": "username", "reason": "taken"}
        )
    return username


def _check_profile(fields: dict[str, Any]) -> dict[str, Any]:
    """Business rules for profile fields, whichever adapter they came through."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise validation_error(sorted(unknown)[0], "unknown_field", "This field cannot be changed.")
    if "nickname" in fields:
        fields["nickname"] = (fields["nickname"] or "").strip()
        if len(fields["nickname"]) > 64:
            raise validation_error("nickname", "too_long", "A nickname is at most 64 characters.")
    if "sex" in fields and fields["sex"] not in Sex.values:
        raise validation_error("sex", "choice", "sex is male, female or unknown.")
    if fields.get("age") is not None and not 0 <= fields["age"] <= 150:
        raise validation_error("age", "range", "age is between 0 and 150.")
    return fields


def check_new_password(password: str, user: User) -> None:
    try:
        validate_password(password or "", user=user)
    except DjangoValidationError as exc:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            "This password is too weak.",
            {"field": "password", "reason": "weak", "problems": list(exc.messages)},
        ) from exc


def user_register(
    *,
    username: str,
    password: str,
    address: str | None = None,
    email: str = "",
    link_base: str = "",
    **profile: Any,
) -> User:
    """Create a person's account. Anyone may register; there is no acting user yet. From a client
    `address`, every attempt counts against RATE_LIMIT_REGISTRATIONS (so that neither accounts
    nor the "taken" answer can be farmed). An `email` is optional; it is sent a verification link
    (into the web client at `link_base` unless PUBLIC_BASE_URL is set)."""
    if address is not None:
        rate_limit_named("REGISTRATIONS", client_key(address))
    profile = _check_profile(profile)
    candidate = User(username=username, email=check_email(email, None), **profile)
    check_new_password(password, candidate)
    try:
        with transaction.atomic():
            _check_username(username)
            candidate.nickname = candidate.nickname or username
            candidate.set_password(password)
            candidate.save()
            if candidate.email:
                send_verification(candidate, link_base)
    except IntegrityError as exc:  # two registrations of one name raced past the check
        raise DomainError(
            ErrorCode.CONFLICT, "This username is taken.", {"field": "username", "reason": "taken"}
        ) from exc
    return candidate


# --- sign-in throttling (README, "Sign-in throttling"; docs/architecture.md, "Abuse throttling") ---


def _signin_counters(username: str, address: str) -> list[tuple[Backoff, str]]:
    """The failure counters a sign-in of `username` from `address` answers to. A pair (account,
    address) that signed in successfully within SIGNIN_KNOWN_ADDRESS_DAYS answers to its own
    counter only: failures elsewhere, for this account or from this address, never slow it."""
    limits = settings.IMSUITE
    account = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    network = client_key(address)
    pair = f"{account}:{network}"

    def backoff(name: str, free: str) -> Backoff:
        return Backoff(
            name,
            limits[free],
            limits["SIGNIN_DELAY_SECONDS"],
            limits["SIGNIN_DELAY_MAX_SECONDS"],
            limits["SIGNIN_FAILURE_WINDOW_SECONDS"],
        )

    counters = [(backoff("signin-pair", "SIGNIN_FREE_FAILURES"), pair)]
    try:
        known = shared_cache.get(f"rate:signin-known:{pair}")
    except redis_nodes.UNREACHABLE:  # Redis away: nothing is counted either
        known = True
    if not known:
        counters.append((backoff("signin-address", "SIGNIN_ADDRESS_FREE_FAILURES"), network))
        counters.append((backoff("signin-account", "SIGNIN_ACCOUNT_FREE_FAILURES"), account))
    return counters


def signin_admit(*, username: str, address: str) -> None:
    """RATE_LIMITED (reason sign_in_failures) while a failure counter of this attempt makes it
    wait; the password is not even checked then."""
    refusal = backoff_refusal(_signin_counters(username, address), "sign_in_failures")
    if refusal is not None:
        raise refusal


def signin_failed(*, username: str, address: str) -> None:
    """A wrong password (or no such active account: counted the same, so that the throttle does
    not tell which accounts exist)."""
    backoff_failed(_signin_counters(username, address))


def signin_succeeded(*, username: str, address: str) -> None:
    """The pair's own failures are forgotten and the address becomes known for the account; the
    address's and the account's counters stay (an attacker's one good account must not wipe them)."""
    counters = _signin_counters(username, address)
    backoff_cleared(counters[:1])
    pair = counters[0][1]
    days = settings.IMSUITE["SIGNIN_KNOWN_ADDRESS_DAYS"]
    with contextlib.suppress(*redis_nodes.UNREACHABLE):  # as backoff_cleared
        shared_cache.set(f"rate:signin-known:{pair}", True, timeout=days * 86400)


def user_update(*, actor: User, user_id: int, **fields: Any) -> User:
    """Change profile fields: one's own, or anyone's as a moderator."""
    user = _profile_to_change(actor, user_id)
    fields = _check_profile(fields)
    if not fields:
        return user
    return _profile_save(user, fields)


def user_avatar_upload(*, actor: User, user_id: int, upload: UploadedFile) -> User:
    """An uploaded picture as the avatar (media.avatars makes and stores it); the uploaded one it
    replaces is removed. Counts against the upload rate limit."""
    user = _profile_to_change(actor, user_id)
    with avatar_stored(actor=actor, upload=upload) as url:
        return _profile_save(user, {"avatar_url": url})


def _profile_to_change(actor: User, user_id: int) -> User:
    """One's own profile, one's bot's, or anyone's as a moderator."""
    user = access_user(actor, user_id)
    if user.pk != actor.pk and not (user.is_bot and user.owner_id == actor.pk):
        require_moderator(actor)
    return user


def _profile_save(user: User, fields: dict[str, Any]) -> User:
    with transaction.atomic():
        if "avatar_url" in fields:
            avatar_replaced(user.avatar_url, fields["avatar_url"])
        for name, value in fields.items():
            setattr(user, name, value)
        user.save(update_fields=[*fields])
        publish("user.updated", _profile_audience(user), {"user_id": user.pk})
    return user


def _profile_audience(user: User) -> set[int]:
    friends = Friendship.objects.filter(user=user).values_list("friend_id", flat=True)
    return {user.pk, *friends}


def user_set_active(*, actor: User, user_id: int, active: bool) -> User:
    """Deactivate (ban) or reactivate an account and its bots. A deactivated user's refresh tokens
    are revoked and their open connections are told to close."""
    require_moderator(actor)
    user = access_user(actor, user_id)
    if user.pk == actor.pk:
        raise permission_to_self()
    with transaction.atomic():
        affected = [user, *User.objects.filter(owner=user)]
        User.objects.filter(pk__in=[u.pk for u in affected]).update(is_active=active)
        audit.record(actor, "user.activate" if active else "user.deactivate", "user", user.pk)
        if not active:
            _revoke_sessions([u.pk for u in affected])
            BotToken.objects.filter(bot__in=[u.pk for u in affected], revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
            publish("user.deactivated", {u.pk for u in affected}, {"user_id": user.pk})
    user.refresh_from_db()
    return user


def user_password_set(*, actor: User, user_id: int, password: str | None) -> User:
    """A moderator sets a person's password, or disables password sign-in (None). Whoever knew the
    old one may be signed in with it: every session of the person is signed out (refresh tokens
    revoked, access tokens refused, open connections closed)."""
    require_moderator(actor)
    user = access_user(actor, user_id)
    if user.is_bot:
        raise DomainError(
            ErrorCode.PERMISSION_DENIED, "Bots sign in with their token, not a password.", {"reason": "bot"}
        )
    replace_password(user, password, by=actor, action="user.password_set", usable=password is not None)
    return user


def replace_password(
    user: User, password: str | None, *, by: User, action: str, keep: str | None = None, **details: Any
) -> None:
    """A new password (None: password sign-in off), audited as `action` by `by`. Whoever knew the
    old one may be signed in with it: every session but `keep` is signed out."""
    if password is None:
        user.set_unusable_password()
    else:
        check_new_password(password, user)
        user.set_password(password)
    with transaction.atomic():
        user.save(update_fields=["password"])
        audit.record(by, action, "user", user.pk, **details)
        sign_out_sessions(user.pk, keep=keep)


def sign_out_sessions(user_id: int, *, only: str | None = None, keep: str | None = None) -> list[str]:
    """Sign out every session of a person, or all but `keep`, or `only` that one: their refresh
    tokens are revoked, their access tokens refused, their open connections told to close (after
    the commit). Returns the sids signed out. Call it inside the change's transaction."""
    by_sid = refresh_tokens_by_session(user_id)
    sids = sorted(sid for sid in by_sid if sid != keep and (only is None or sid == only))
    now = timezone.now()
    live = [token for sid in sids for token in by_sid[sid] if token.expires_at > now]
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token=t) for t in live], ignore_conflicts=True)
    for sid in sids:
        revoke_session(sid)
    UserSession.objects.filter(sid__in=sids).delete()
    publish_events(
        [
            DomainEvent("user.logged_out", frozenset({user_id}), {"user_id": user_id, "sid": sid})
            for sid in sids
        ]
    )
    return sids


def permission_to_self() -> DomainError:
    return DomainError(ErrorCode.PERMISSION_DENIED, "You cannot do this to yourself.", {"reason": "self"})


def _revoke_sessions(user_ids: list[int]) -> None:
    outstanding = OutstandingToken.objects.filter(
        user_id__in=user_ids, expires_at__gt=timezone.now()
    ).exclude(blacklistedtoken__isnull=False)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=t) for t in outstanding], ignore_conflicts=True
    )


def session_logout(*, refresh: str) -> int:
    """Revoke one refresh token (one device's session). Returns the user id it belonged to."""
    try:
        token = RefreshToken(refresh)
        user_id = token.payload.get(settings.SIMPLE_JWT.get("USER_ID_CLAIM", "user_id"))
        token.blacklist()
    except TokenError as exc:
        raise DomainError(
            ErrorCode.AUTHENTICATION_FAILED, "This refresh token is not valid.", {"reason": str(exc)}
        ) from exc
    sid = token.payload.get(SID_CLAIM)
    revoke_session(sid)
    UserSession.objects.filter(sid=sid).delete()
    publish("user.logged_out", {int(user_id)}, {"user_id": int(user_id), "sid": sid})
    return int(user_id)


def friendship_create(*, user_a: User, user_b: User) -> None:
    """Make two people friends (both directions) and open their private chat. Idempotent.

    Internal: callers decide who may befriend whom (friend request acceptance, bot creation)."""
    from chats.services import private_chat_ensure

    if user_a.pk == user_b.pk:
        raise permission_to_self()
    with transaction.atomic():
        created = False
        for a, b in ((user_a, user_b), (user_b, user_a)):
            _, made = Friendship.objects.get_or_create(user=a, friend=b)
            created = created or made
        private_chat_ensure(user_a=user_a, user_b=user_b)
        if created:
            publish("friend.added", {user_a.pk}, {"user_id": user_b.pk, "user": user_ref(user_b)})
            publish("friend.added", {user_b.pk}, {"user_id": user_a.pk, "user": user_ref(user_a)})


def _new_bot_token(bot: User) -> str:
    token = BOT_TOKEN_PREFIX + secrets.token_urlsafe(32)
    BotToken.objects.filter(bot=bot, revoked_at__isnull=True).update(revoked_at=timezone.now())
    BotToken.objects.create(bot=bot, key_hash=hash_bot_token(token), prefix=token[:10])
    return token


def hash_bot_token(token: str) -> str:
    """Tokens carry 256 random bits, so a fast hash is enough; a leaked table reveals no token."""
    return hashlib.sha256(token.encode()).hexdigest()


def bot_create(*, actor: User, username: str, nickname: str = "") -> tuple[User, str]:
    """A person creates a bot they own; it starts as their friend. Returns the bot and its token,
    which is shown only this once."""
    if actor.is_bot:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "Bots cannot create bots.", {"reason": "bot"})
    limit = settings.IMSUITE["MAX_BOTS_PER_USER"]
    nickname = _check_profile({"nickname": nickname})["nickname"]
    try:
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=actor.pk).first()  # one creation at a time per owner
            if User.objects.filter(owner=actor, is_bot=True).count() >= limit:
                raise DomainError(
                    ErrorCode.CONFLICT,
                    f"You already have {limit} bots.",
                    {"reason": "bot_limit", "limit": limit},
                )
            _check_username(username)
            bot = User(username=username, nickname=nickname or username, is_bot=True, owner=actor)
            bot.set_unusable_password()
            bot.save()
            token = _new_bot_token(bot)
            friendship_create(user_a=actor, user_b=bot)
    except IntegrityError as exc:
        raise DomainError(
            ErrorCode.CONFLICT, "This username is taken.", {"field": "username", "reason": "taken"}
        ) from exc
    return bot, token


def bot_token_rotate(*, actor: User, bot_id: int) -> tuple[User, str]:
    """Issue a new token for one's bot; the old one stops working at once."""
    bot = access_own_bot(actor, bot_id)
    with transaction.atomic():
        token = _new_bot_token(bot)
        publish("bot.token_revoked", {bot.pk}, {"user_id": bot.pk})
    return bot, token


def bot_authenticate(token: str) -> User | None:
    """The active bot a token belongs to, or None for an unknown, revoked or deactivated one."""
    if not token or not token.startswith(BOT_TOKEN_PREFIX):
        return None
    row = (
        BotToken.objects.select_related("bot")
        .filter(key_hash=hash_bot_token(token), revoked_at__isnull=True, bot__is_active=True)
        .first()
    )
    return row.bot if row else None


# ---- presence ------------------------------------------------------------------------------


@lru_cache(maxsize=128)
def _presence_audiences_sql(include_blocked: bool, count: int) -> str:
    """(user, hearer) pairs for `count` users. Built on first use: chats.models imports this app's
    models."""
    from chats.models import Chat, ChatMember

    member, users = ChatMember._meta.db_table, sql.placeholders(count)
    statement = (
        f"SELECT user_id, friend_id FROM {Friendship._meta.db_table} WHERE user_id IN ({users}) UNION"  # noqa: S608  (our table names)
        f" SELECT me.user_id, peer.user_id FROM {member} me JOIN {Chat._meta.db_table} c ON c.id = me.chat_id"
        f" JOIN {member} peer ON peer.chat_id = me.chat_id"
        f" WHERE me.user_id IN ({users}) AND c.type = '{Chat.Type.PRIVATE}' AND peer.user_id <> me.user_id"
    )
    if include_blocked:
        return statement
    blocks = f"SELECT blocker_id, blocked_id FROM {Block._meta.db_table} WHERE blocker_id IN ({users})"  # noqa: S608
    return f"{statement} EXCEPT {blocks}"


def presence_audience(user_id: int, *, include_blocked: bool = False) -> set[int]:
    """Who hears about a user's presence: their friends and their private-chat peers but those the
    user blocked."""
    return _presence_audiences([user_id], include_blocked=include_blocked)[user_id]


def _presence_audiences(user_ids: list[int], *, include_blocked: bool = False) -> dict[int, set[int]]:
    """presence_audience of each user, in one constant statement for all (connections opening and
    closing together ask together)."""
    statement = _presence_audiences_sql(include_blocked, len(user_ids))
    return _by_user(user_ids, sql.fetch_all(statement, user_ids * (2 if include_blocked else 3)))


def _by_user(user_ids: list[int], pairs: list[tuple[Any, ...]]) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {user_id: set() for user_id in user_ids}
    for user_id, hearer in pairs:
        found[user_id].add(hearer)
    return found


@lru_cache(maxsize=128)
def _last_seen_sql(count: int) -> str:
    return f"UPDATE {User._meta.db_table} SET last_seen = %s WHERE id IN ({sql.placeholders(count)})"  # noqa: S608


@lru_cache(maxsize=128)
def _stamped_audiences_sql(count: int) -> str:
    """PostgreSQL: the last-seen stamp as a data-modifying WITH (run once, whatever the query
    reads) in front of the presence audiences' statement."""
    return f"WITH stamped AS ({_last_seen_sql(count)}) {_presence_audiences_sql(False, count)}"


def _stamp_and_announce(users: list[User], is_online: bool) -> None:
    """Stamp the users' last_seen and announce their presence. Every connection opening and
    closing does this: on PostgreSQL the stamp rides on the audiences' statement, one round trip
    instead of two (docs/performance.md, step 34), for all the users of connections opening together."""
    if not users:
        return
    now = timezone.now()
    ids = [user.pk for user in users]
    if sql.on_postgresql():
        audiences = _by_user(
            ids, sql.fetch_all(_stamped_audiences_sql(len(ids)), [sql.moment(now), *ids * 4])
        )
    else:
        sql.execute(_last_seen_sql(len(ids)), [sql.moment(now), *ids])
        audiences = _presence_audiences(ids)
    events = []
    for user in users:
        user.last_seen = now
        data = {"user_id": user.pk, "is_online": is_online, "last_seen": now, "user": user_ref(user)}
        events.append(DomainEvent(name="presence", audience=frozenset(audiences[user.pk]), data=data))
    publish_events(events)


def connection_opened(*, actor: User, connection: str, call_waiting: bool | None = None) -> None:
    """A connection of the actor opened (connections_opened for one)."""
    connections_opened([(actor, connection, call_waiting)])


def connections_opened(openings: list[tuple[User, str, bool | None]]) -> None:
    """Connections opened together, each (actor, connection id, call_waiting); an actor's first one
    announces them online. `call_waiting`, if the caller has read it: a live call waits for the
    actor (calls.services.PARTY_WAITING_OF_U). One presence round trip for all of them, and their
    writes (stamps, resumed calls) are one transaction; if it fails, every one of their leases goes
    too (none of them opened)."""
    from calls.services import call_party_returned

    store = presence.registry()
    leases = [(actor.pk, connection) for actor, connection, _ in openings]
    was_online = store.renew_each(leases)
    first: dict[int, User] = {}
    resumed = []
    for (actor, connection, waiting), online in zip(openings, was_online, strict=True):
        if not online:
            first.setdefault(actor.pk, actor)
        if waiting is not False:
            resumed.append((actor, connection, waiting))
    if not first and not resumed:  # only further connections, and no call waits: nothing to write
        return
    try:
        with transaction.atomic():
            for actor, connection, waiting in resumed:
                call_party_returned(user=actor, channel=connection, waiting=waiting)
            _stamp_and_announce(list(first.values()), True)
    except Exception:
        store.drop_each(leases)
        raise


def connections_renewed(*, leases: Iterable[tuple[int, str]]) -> None:
    """Open connections renew their presence leases ((user id, connection id)), all at once: the
    process's watchdog (imsuite.watchdog) collects those due together."""
    presence.registry().renew_many(leases)


def connection_closed(*, actor: User, connection: str) -> None:
    """A connection of the actor closed (connections_closed for one)."""
    connections_closed([(actor, connection)])


def connections_closed(closings: list[tuple[User, str]]) -> None:
    """Connections closed together, each (actor, connection id); an actor's last one announces them
    offline and starts the grace period of their live calls. One presence round trip for all of
    them, and their writes (the grace periods, the stamps) are one transaction, or none of them."""
    from calls.services import call_parties_left

    try:
        still_online = presence.registry().drop_each(
            [(actor.pk, connection) for actor, connection in closings]
        )
    except redis.RedisError as exc:  # the leases expire by themselves; whether others are left is unknown
        users = ", ".join(str(actor.pk) for actor, _ in closings)
        logger.warning("could not drop the presence lease of user %s: %s", users, exc)
        return
    gone = {actor.pk: actor for (actor, _), online in zip(closings, still_online, strict=True) if not online}
    if gone:
        with transaction.atomic():
            call_parties_left(users=list(gone.values()))
            _stamp_and_announce(list(gone.values()), False)


def presence_announce(*, actor: User, is_online: bool) -> None:
    """An explicit presence from a client (e.g. the app going to the background)."""
    require_active(actor)
    _stamp_and_announce([actor], is_online)


# ---- friends -------------------------------------------------------------------------------


def friend_request_data(request: FriendRequest) -> dict[str, Any]:
    return {
        "id": request.pk,
        "from_user": user_ref(request.from_user),
        "to_user": user_ref(request.to_user),
        "message": request.message,
        "status": request.status,
        "created_at": request.created_at,
        "responded_at": request.responded_at,
    }


def friend_request_send(*, actor: User, user_id: int, comment: str = "") -> FriendRequest:
    """Ask someone to be friends. If they already asked the actor, this accepts their request.
    Every attempt counts against RATE_LIMIT_FRIEND_REQUESTS. Refused (blocked) when either blocked
    the other."""
    rate_limit_named("FRIEND_REQUESTS", actor.pk)
    target = access_user(actor, user_id)
    if target.pk == actor.pk:
        raise permission_to_self()
    if is_blocked_between(actor.pk, target.pk):
        raise blocked_refusal()
    if Friendship.objects.filter(user=actor, friend=target).exists():
        raise DomainError(ErrorCode.CONFLICT, "You are already friends.", {"reason": "already_friends"})
    reverse = FriendRequest.objects.filter(
        from_user=target, to_user=actor, status=FriendRequest.Status.PENDING
    ).first()
    if reverse is not None:
        return friend_request_answer(actor=actor, request_id=reverse.pk, accept=True)
    try:
        with transaction.atomic():
            request = FriendRequest.objects.create(from_user=actor, to_user=target, message=comment.strip())
            publish("friend.request", {actor.pk, target.pk}, {"request": friend_request_data(request)})
    except IntegrityError as exc:
        raise DomainError(
            ErrorCode.CONFLICT, "You already asked this person.", {"reason": "already_requested"}
        ) from exc
    return request


def friend_request_answer(*, actor: User, request_id: int, accept: bool) -> FriendRequest:
    """The person asked accepts (they become friends, with a private chat) or rejects."""
    with transaction.atomic():
        require_active(actor)
        request = (
            FriendRequest.objects.select_for_update()
            .select_related("from_user", "to_user")
            .filter(pk=request_id, to_user=actor)
            .first()
        )
        if request is None:
            raise not_found("Friend request")
        if request.status != FriendRequest.Status.PENDING:
            raise DomainError(
                ErrorCode.CONFLICT, f"This request was already {request.status}.", {"reason": request.status}
            )
        request.status = FriendRequest.Status.ACCEPTED if accept else FriendRequest.Status.REJECTED
        request.responded_at = timezone.now()
        request.save(update_fields=["status", "responded_at"])
        publish(
            "friend.request_updated",
            {request.from_user_id, actor.pk},
            {"request": friend_request_data(request)},
        )
        if accept:
            friendship_create(user_a=request.from_user, user_b=actor)
    return request


def friend_remove(*, actor: User, user_id: int) -> None:
    """End a friendship (both directions). Their private chat and its history stay."""
    with transaction.atomic():
        require_active(actor)
        deleted, _ = Friendship.objects.filter(
            models.Q(user=actor, friend_id=user_id) | models.Q(user_id=user_id, friend=actor)
        ).delete()
        if not deleted:
            raise not_found("Friend")
        publish("friend.removed", {actor.pk}, {"user_id": user_id})
        publish("friend.removed", {user_id}, {"user_id": actor.pk})


# ---- notifications -------------------------------------------------------------------------


def notification_send(
    *,
    actor: User,
    title: str,
    message: str,
    type: str = "info",
    action_url: str = "",
    user_ids: list[int] | None = None,
) -> Notification:
    """Staff send a system notification to some users, or to everyone when user_ids is empty."""
    if not (actor.is_active and actor.is_staff):
        raise DomainError(
            ErrorCode.PERMISSION_DENIED, "Only staff send notifications.", {"reason": "not_staff"}
        )
    recipients = list(User.objects.filter(pk__in=user_ids or [], is_active=True))
    if user_ids and len(recipients) != len(set(user_ids)):
        missing = sorted(set(user_ids) - {u.pk for u in recipients})
        raise DomainError(
            ErrorCode.NOT_FOUND, "Some users do not exist.", {"field": "user_ids", "user_ids": missing}
        )
    with transaction.atomic():
        note = Notification.objects.create(
            title=title, message=message, type=type, action_url=action_url or "", sent_by=actor
        )
        note.recipients.set(recipients)
        data = {"title": title, "message": message, "type": type, "action_url": action_url or None}
        if recipients:
            publish("notification", {u.pk for u in recipients}, data)
        else:
            publish_broadcast("notification", data)
    return note
