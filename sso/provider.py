"""The OpenID provider as mozilla-django-oidc's relying party sees it, with what that library
leaves out: the endpoints come from the issuer's discovery document, and the ID token's issuer,
audience and expiry are checked besides its signature and nonce (the library checks only those two).

The provider is the operator's choice (OIDC_ISSUER), not a user's, so its requests do not go
through imsuite.outbound_http's guard (docs/architecture.md, "Single sign-on")."""

import time
from dataclasses import dataclass
from typing import Any

import josepy.errors
import requests
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts.models import User

from . import services

DISCOVERY_TTL_SECONDS = 3600
CLOCK_LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str


_discovered: dict[str, tuple[float, Metadata]] = {}


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER and settings.OIDC_RP_CLIENT_ID)


def metadata() -> Metadata:
    """The provider's endpoints from /.well-known/openid-configuration, kept for an hour per process.
    A document for another issuer than configured is refused (OpenID Connect Discovery 1.0, 4.3)."""
    issuer = settings.OIDC_ISSUER
    known = _discovered.get(issuer)
    if known and known[0] > time.monotonic():
        return known[1]
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT, proxies=settings.OIDC_PROXY)
        response.raise_for_status()
        document = response.json()
        found = Metadata(**{field: document[field] for field in Metadata.__dataclass_fields__})
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise services.refused("provider_unavailable", f"The provider's discovery failed: {exc}") from exc
    if found.issuer != issuer:
        raise services.refused("provider_unavailable", f"The discovery document names {found.issuer!r}.")
    _discovered[issuer] = (time.monotonic() + DISCOVERY_TTL_SECONDS, found)
    return found


class ProviderBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's code flow (token request with the PKCE verifier, JWKS, userinfo) with
    the account from sso.services. Django builds every backend for every authenticate() call, so
    the endpoints are discovered only when the callback's call (the one with a nonce) arrives."""

    def __init__(self) -> None:
        self.UserModel = User

    def authenticate(self, request: Any, **kwargs: Any) -> User | None:
        if request is None or "nonce" not in kwargs or not enabled():
            return None  # a password sign-in passing by
        self.meta = metadata()
        self.OIDC_OP_TOKEN_ENDPOINT = self.meta.token_endpoint
        self.OIDC_OP_USER_ENDPOINT = self.meta.userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = self.meta.jwks_uri
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        return super().authenticate(request, **kwargs)

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """Signature and nonce (the library), then issuer, audience and expiry (OpenID Connect
        Core 1.0, 3.1.3.7)."""
        try:
            payload = super().verify_token(token, **kwargs)
        except (SuspiciousOperation, josepy.errors.Error, ValueError) as exc:  # forged, or not a JWS at all
            raise services.refused("id_token_invalid", str(exc) or type(exc).__name__) from exc
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if payload.get("iss") != self.meta.issuer or self.OIDC_RP_CLIENT_ID not in audiences:
            raise services.refused("id_token_invalid", "The ID token is for another issuer or client.")
        if (
            not isinstance(payload.get("exp"), int | float)
            or payload["exp"] + CLOCK_LEEWAY_SECONDS < time.time()
        ):
            raise services.refused("id_token_invalid", "The ID token has expired.")
        return payload

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> User:
        """The userinfo claims name the person; their sub must be the ID token's (Core 1.0, 5.3.2)."""
        claims = self.get_userinfo(access_token, id_token, payload)
        if claims.get("sub") != payload.get("sub"):
            raise services.refused("claims_invalid", "The userinfo names another subject than the ID token.")
        return services.identity_sign_in(issuer=self.meta.issuer, claims=claims)
