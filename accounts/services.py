"""Every change to accounts, friendships and bots. Adapters call these and nothing else."""

import hashlib
import re
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from imsuite.errors import DomainError, ErrorCode, validation_error
from imsuite.events import publish

from .access import access_own_bot, access_user, require_moderator
from .models import BotToken, Friendship, Sex, User
from .sessions import SID_CLAIM, revoke_session

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


def user_register(*, username: str, password: str, **profile: Any) -> User:
    """Create a person's account. Anyone may register; there is no acting user yet."""
    profile = _check_profile(profile)
    candidate = User(username=username, **profile)
    try:
        validate_password(password or "", user=candidate)
    except DjangoValidationError as exc:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            "This password is too weak.",
            {"field": "password", "reason": "weak", "problems": list(exc.messages)},
        ) from exc
    try:
        with transaction.atomic():
            _check_username(username)
            candidate.nickname = candidate.nickname or username
            candidate.set_password(password)
            candidate.save()
    except IntegrityError as exc:  # two registrations of one name raced past the check
        raise DomainError(
            ErrorCode.CONFLICT, "This username is taken.", {"field": "username", "reason": "taken"}
        ) from exc
    return candidate


def user_update(*, actor: User, user_id: int, **fields: Any) -> User:
    """Change profile fields: one's own, or anyone's as a moderator."""
    user = access_user(actor, user_id)
    if user.pk != actor.pk and not (user.is_bot and user.owner_id == actor.pk):
        require_moderator(actor)
    fields = _check_profile(fields)
    if not fields:
        return user
    with transaction.atomic():
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
        if not active:
            _revoke_sessions([u.pk for u in affected])
            BotToken.objects.filter(bot__in=[u.pk for u in affected], revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
            publish("user.deactivated", {u.pk for u in affected}, {"user_id": user.pk})
    user.refresh_from_db()
    return user


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
            publish("friend.added", {user_a.pk}, {"user_id": user_a.pk, "friend_id": user_b.pk})
            publish("friend.added", {user_b.pk}, {"user_id": user_b.pk, "friend_id": user_a.pk})


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


def user_touch_last_seen(*, user_id: int) -> None:
    """Record when a user was last connected (called by the realtime adapters on disconnect)."""
    User.objects.filter(pk=user_id).update(last_seen=timezone.now())
