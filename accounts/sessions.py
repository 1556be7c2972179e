"""Sign-in sessions: every refresh token carries a session id ("sid") that its access tokens
inherit, so signing out on one device can end exactly that device's connections and access tokens.

Revoked sessions are remembered in the cache for as long as an access token can live."""

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from imsuite import sql
from imsuite.errors import DomainError, ErrorCode

from .models import User

SID_CLAIM = "sid"


def new_refresh_token(user: User) -> RefreshToken:
    token = RefreshToken.for_user(user)
    token[SID_CLAIM] = uuid.uuid4().hex
    return token


def _revoked_key(sid: str) -> str:
    return f"revoked-session:{sid}"


def revoke_session(sid: str | None) -> None:
    if sid:
        lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()
        cache.set(_revoked_key(sid), 1, timeout=int(lifetime) + 60)


def session_revoked(sid: str | None) -> bool:
    return bool(sid) and cache.get(_revoked_key(sid)) is not None


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


@functools.cache
def _user_sql(vendor: str, extras: tuple[str, ...]) -> str:
    selected = ", ".join([sql.columns(User, "u"), *extras])
    return f"SELECT {selected} FROM {User._meta.db_table} u WHERE u.id = %s"  # noqa: S608  (our own SQL)


def open_session(claims: AccessClaims, *extras: str) -> tuple[Session, tuple[Any, ...]]:
    """The active user and live session behind checked claims, or AUTHENTICATION_FAILED with a
    reason: user_inactive, session_revoked. `extras` are SQL expressions over the user's row `u`,
    whose values come back read in the same statement: every connection opening asks for its
    last seq and waiting call too, and one round trip costs a third of three."""
    row = sql.fetch_one(_user_sql(connection.vendor, extras), [claims.user_id])
    width = len(User._meta.concrete_fields)
    user = None if row is None else sql.instance(User, row[:width])
    if user is None or not user.is_active:
        raise _auth_failed("user_inactive", "This account is not active.")
    if session_revoked(claims.sid):
        raise _auth_failed("session_revoked", "This session has been signed out.")
    return Session(user=user, sid=claims.sid, expires_at=claims.expires_at), row[width:]


class SessionJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, refusing access tokens of signed-out sessions."""

    def get_validated_token(self, raw_token: bytes) -> Any:
        token = super().get_validated_token(raw_token)
        if session_revoked(token.payload.get(SID_CLAIM)):
            raise AuthenticationFailed("This session has been signed out.", code="session_revoked")
        return token
