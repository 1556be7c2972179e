"""Sign-in sessions: every refresh token carries a session id ("sid") that its access tokens
inherit, so signing out on one device can end exactly that device's connections and access tokens.

Revoked sessions are stored in the database (RevokedSession) for as long as an access token can
live; the cache holds the answer for each sid it has been asked about, so the hot path is one
cache get. A sid missing from the cache (never asked, expired, or the cache wiped by a Redis
restart) is read from the database and the answer cached: "revoked" until the tokens die,
"not revoked" for NOT_REVOKED_TTL_SECONDS only (docs/architecture.md, "Security state")."""

import contextlib
import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.dispatch import Signal
from django.utils import timezone
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from imsuite import sql
from imsuite.errors import DomainError, ErrorCode

from .access import inactive_actor
from .devices import device_of
from .models import BotToken, RevokedSession, User, UserSession

logger = logging.getLogger(__name__)

SID_CLAIM = "sid"
# How long the cache may answer "not revoked" without the database. A sign-out overwrites the
# entry at once; this bounds only the case where that write failed (the cache was unreachable
# then, without losing its data), and costs one indexed read per active session per period.
NOT_REVOKED_TTL_SECONDS = 60
REVOKED, NOT_REVOKED = 1, 0
# Sent with `user` whenever a sign-in starts a session (lifecycle: signing in cancels a deletion).
session_started = Signal()

LAST_USED_PRECISION_SECONDS = 60


def new_refresh_token(user: User) -> RefreshToken:
    """A session is named after its first refresh token: simplejwt stores that one (as an outstanding
    token) before a sid can be added, and the sid is then its jti (refresh_tokens_by_session reads
    it back)."""
    token = RefreshToken.for_user(user)
    token[SID_CLAIM] = token[api_settings.JTI_CLAIM]
    return token


def start_session(user: User, *, user_agent: str = "", address: str = "") -> RefreshToken:
    """Every door that signs a person in (password, second factor, single sign-on) starts the session
    here, so each session is known with the device and address it began on (UserSession, listed to
    its owner). The person's sessions that can no longer be refreshed are forgotten on the way."""
    session_started.send(sender=User, user=user)
    token = new_refresh_token(user)
    now = timezone.now()
    UserSession.objects.filter(user=user, last_used_at__lt=now - _refresh_lifetime()).delete()
    browser, system = device_of(user_agent)
    UserSession.objects.create(
        sid=token[SID_CLAIM],
        user=user,
        user_agent=user_agent[:300],
        browser=browser,
        system=system,
        address=address[:45],
        last_used_at=now,
    )
    return token


def _refresh_lifetime() -> timedelta:
    return settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]


def session_used(sid: str | None) -> None:
    """A refresh: the session's last use, written at most once a minute (one UPDATE that matches
    nothing otherwise), since clients refresh every few minutes per tab."""
    if sid:
        now = timezone.now()
        recent = now - timedelta(seconds=LAST_USED_PRECISION_SECONDS)
        UserSession.objects.filter(sid=sid, last_used_at__lt=recent).update(last_used_at=now)


def _revoked_key(sid: str) -> str:
    return f"revoked-session:{sid}"


def _token_lifetime() -> int:
    return int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()) + 60


def revoke_session(sid: str | None) -> None:
    """Sign a session out: stored first (the truth, which outlives the cache), then cached. Rows
    whose tokens have all expired are pruned on the way."""
    if not sid:
        return
    now = timezone.now()
    RevokedSession.objects.filter(expires_at__lt=now).delete()
    expires = now + timedelta(seconds=_token_lifetime())
    RevokedSession.objects.update_or_create(sid=sid, defaults={"expires_at": expires})
    try:
        cache.set(_revoked_key(sid), REVOKED, timeout=_token_lifetime())
    except Exception as exc:  # the cache is down: a cold or stale entry is read from the database
        logger.warning("could not cache the revocation of session %s: %s", sid, exc)


def refresh_tokens_by_session(user_id: int) -> dict[str, list[OutstandingToken]]:
    """The refresh tokens of every session of the user whose access tokens may still live, by sid.
    Every refresh token issued is kept as an outstanding token: a rotated one carries its session's
    sid, a sign-in's was stored before its sid was added and is the session's namesake
    (new_refresh_token). An access token outlives the refresh token it came from by at most its
    own lifetime."""
    since = timezone.now() - timedelta(seconds=_token_lifetime())
    by_sid: dict[str, list[OutstandingToken]] = {}
    for issued in OutstandingToken.objects.filter(user_id=user_id, expires_at__gt=since):
        claims = token_backend.decode(issued.token, verify=False)
        by_sid.setdefault(claims.get(SID_CLAIM) or claims[api_settings.JTI_CLAIM], []).append(issued)
    return by_sid


def session_revoked(sid: str | None) -> bool:
    """Whether this session is signed out (every request with an access token asks)."""
    return bool(sid) and sid in revoked_sessions([sid])


def revoked_sessions(sids: Iterable[str | None]) -> set[str]:
    """Which of these sessions are signed out: one cache read for all of them; the database for
    those the cache does not know (and the answers cached). "Not revoked" is cached with add, never
    set: a sign-out written meanwhile is not overwritten."""
    wanted = {sid for sid in sids if sid}
    if not wanted:
        return set()
    keys = {_revoked_key(sid): sid for sid in wanted}
    try:
        known = cache.get_many(list(keys))
    except Exception as exc:  # the cache is unreachable (Redis restarting): the database answers alone
        named = ", ".join(sorted(wanted))
        logger.warning(
            "revocation check of session %s: the cache failed (%s); asking the database", named, exc
        )
        known = {}
    revoked = {keys[key] for key, value in known.items() if value == REVOKED}
    unknown = wanted - {keys[key] for key in known}
    if unknown:
        found: set[str] = set()
        for chunk in _chunks(unknown):
            stored = RevokedSession.objects.filter(sid__in=chunk, expires_at__gt=timezone.now())
            found.update(stored.values_list("sid", flat=True))
        revoked |= found
        with contextlib.suppress(Exception):  # warming the cache is optional
            for sid in unknown:
                if sid in found:
                    cache.set(_revoked_key(sid), REVOKED, timeout=_token_lifetime())
                else:
                    cache.add(_revoked_key(sid), NOT_REVOKED, timeout=NOT_REVOKED_TTL_SECONDS)
    return revoked


CHECK_CHUNK = 500  # values per IN list: SQLite limits a statement's parameters


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    ordered = sorted(set(values))
    return (ordered[i : i + CHECK_CHUNK] for i in range(0, len(ordered), CHECK_CHUNK))


def rights_lost(credentials: Sequence[tuple[int, str | None, str | None]]) -> list[str | None]:
    """For each open connection's (user id, session id, bot token hash), why it may no longer stay
    open ("deactivated", "logged_out", "token_revoked") or None, read from the database alone, one
    query per kind (per CHECK_CHUNK values): each process's watchdog asks every few seconds, the
    fallback for a closing event that the channel layer lost (imsuite.watchdog)."""
    active: set[int] = set()
    for ids in _chunks(user_id for user_id, _, _ in credentials):
        active.update(User.objects.filter(pk__in=ids, is_active=True).values_list("pk", flat=True))
    revoked: set[str] = set()
    for sids in _chunks(sid for _, sid, _ in credentials if sid):
        rows = RevokedSession.objects.filter(sid__in=sids, expires_at__gt=timezone.now())
        revoked.update(rows.values_list("sid", flat=True))
    live_tokens: set[str] = set()
    for hashes in _chunks(key for _, _, key in credentials if key):
        rows = BotToken.objects.filter(key_hash__in=hashes, revoked_at__isnull=True)
        live_tokens.update(rows.values_list("key_hash", flat=True))
    return [
        "deactivated"
        if user_id not in active
        else "logged_out"
        if sid in revoked
        else "token_revoked"
        if key is not None and key not in live_tokens
        else None
        for user_id, sid, key in credentials
    ]


@dataclass(frozen=True)
class Session:
    user: User
    sid: str | None
    expires_at: datetime


def _auth_failed(reason: str, message: str) -> DomainError:
    return DomainError(ErrorCode.AUTHENTICATION_FAILED, message, {"reason": reason})


@dataclass(frozen=True)
class AccessClaims:
    """What a valid access token says, before the database has been asked."""

    user_id: int
    sid: str | None
    expires_at: datetime


def read_access_token(raw: str | None) -> AccessClaims:
    """An access token's claims once its signature and expiry are checked (no I/O), or
    AUTHENTICATION_FAILED with a reason: missing, token_expired, token_invalid."""
    if not raw:
        raise _auth_failed("missing", "An access token is required.")
    try:
        token = AccessToken(raw)
        user_id = int(token.payload.get(settings.SIMPLE_JWT.get("USER_ID_CLAIM", "user_id")))
    except TokenError as exc:
        expired = "expired" in str(exc).lower()
        raise _auth_failed("token_expired" if expired else "token_invalid", str(exc)) from exc
    except (TypeError, ValueError) as exc:
        raise _auth_failed("token_invalid", "The token names no user.") from exc
    return AccessClaims(
        user_id, token.payload.get(SID_CLAIM), datetime.fromtimestamp(token.payload["exp"], UTC)
    )


@functools.lru_cache(maxsize=256)
def _users_sql(vendor: str, extras: tuple[str, ...], count: int) -> str:
    """The rows of `count` users with `extras`; `vendor`: the columns are quoted by it."""
    selected = ", ".join([sql.columns(User, "u"), *extras])
    where = f"u.id IN ({sql.placeholders(count)})"
    return f"SELECT {selected} FROM {User._meta.db_table} u WHERE {where}"  # noqa: S608  (our own SQL)


def open_session(claims: AccessClaims, *extras: str) -> tuple[Session, tuple[Any, ...]]:
    """open_sessions for one: the session, or its refusal raised."""
    [opened] = open_sessions([claims], extras)
    if isinstance(opened, DomainError):
        raise opened
    return opened


def open_sessions(
    claims: Sequence[AccessClaims], extras: tuple[str, ...] = ()
) -> list[tuple[Session, tuple[Any, ...]] | DomainError]:
    """For each checked claims, the active user and live session behind them, or
    AUTHENTICATION_FAILED with a reason: user_inactive, session_revoked. `extras` are SQL
    expressions over the user's row `u`, whose values come back read in the same statement: every
    connection opening asks for its last seq and waiting call too. One statement for all the users
    (per CHECK_CHUNK) and one cache read for all the sessions: connections opening together (a
    burst of reconnections) share them."""
    fields = User._meta.concrete_fields
    width, pk = len(fields), fields.index(User._meta.pk)
    rows: dict[int, tuple[Any, ...]] = {}
    for ids in _chunks(each.user_id for each in claims):
        for row in sql.fetch_all(_users_sql(connection.vendor, extras, len(ids)), ids):
            rows[row[pk]] = row
    revoked = revoked_sessions(each.sid for each in claims)
    opened: list[tuple[Session, tuple[Any, ...]] | DomainError] = []
    for each in claims:
        row = rows.get(each.user_id)
        user = None if row is None else sql.instance(User, row[:width])
        if user is None or not user.is_active:
            opened.append(inactive_actor())
        elif each.sid in revoked:
            opened.append(_auth_failed("session_revoked", "This session has been signed out."))
        else:
            opened.append((Session(user=user, sid=each.sid, expires_at=each.expires_at), row[width:]))
    return opened


class SessionJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, refusing access tokens of signed-out sessions."""

    def get_validated_token(self, raw_token: bytes) -> Any:
        token = super().get_validated_token(raw_token)
        if session_revoked(token.payload.get(SID_CLAIM)):
            raise AuthenticationFailed("This session has been signed out.", code="session_revoked")
        return token
