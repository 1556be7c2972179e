"""The browser's way through the provider: /oidc/start/ sends it there (state, nonce and PKCE
verifier kept in its Django session by mozilla-django-oidc), /oidc/callback/ takes it back and
ends on the web client, or on an app's registered redirect URI, with a one-time code or the reason
of a refusal in the URL fragment: a fragment is never sent to a server nor in a Referer
(docs/protocol.md, "Single sign-on")."""

import logging
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from imsuite.errors import DomainError

from . import provider, services

logger = logging.getLogger(__name__)


APP_KEY = "sso_app"  # in the session between start and callback: {"redirect", "challenge"}


class AppRedirect(HttpResponseRedirect):
    """A redirect that may go to the schemes of the apps' registered redirect URIs (imsuite://)."""

    @property
    def allowed_schemes(self) -> list[str]:
        return ["http", "https", *(urlsplit(uri).scheme for uri in settings.OIDC_APP_REDIRECT_URIS)]


def back(request: HttpRequest, **fragment: str) -> HttpResponseRedirect:
    """To the app that started this sign-in, or to the web client."""
    app = request.session.get(APP_KEY)
    return AppRedirect((app["redirect"] if app else reverse("home")) + "#" + urlencode(fragment))


def refusal(request: HttpRequest, reason: str) -> HttpResponseRedirect:
    return back(request, **{"oidc-error": reason})


class StartView(OIDCAuthenticationRequestView):
    def __init__(self, **kwargs: object) -> None:  # the endpoint is discovered per request, not set
        super(OIDCAuthenticationRequestView, self).__init__(**kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request: HttpRequest) -> HttpResponse:
        """An app adds ?app=<its registered redirect URI>&app_challenge=<S256 of its verifier>."""
        if not provider.enabled():
            raise Http404
        request.session.pop(APP_KEY, None)
        redirect, challenge = request.GET.get("app"), request.GET.get("app_challenge", "")
        if redirect is not None:
            if redirect not in settings.OIDC_APP_REDIRECT_URIS or not 43 <= len(challenge) <= 128:
                return refusal(request, "app_invalid")
            request.session[APP_KEY] = {"redirect": redirect, "challenge": challenge}
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider.metadata().authorization_endpoint
        except DomainError as exc:
            logger.warning("single sign-on start: %s", exc)
            return refusal(request, exc.details["reason"])
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    def get(self, request: HttpRequest) -> HttpResponse:
        """mozilla-django-oidc's callback (state, then ProviderBackend); every refusal ends on the
        page with its reason instead of a bare 400."""
        if not provider.enabled():
            raise Http404
        try:
            return super().get(request)
        except SuspiciousOperation as exc:  # a state this browser never sent
            logger.warning("single sign-on callback refused: %s", exc)
            return refusal(request, "state_mismatch")
        except DomainError as exc:
            logger.warning("single sign-on callback refused: %s", exc)
            return refusal(self.request, exc.details.get("reason", "sign_in_failed"))
        except requests.HTTPError as exc:  # the provider refused the code (used, expired, foreign)
            logger.warning("single sign-on callback: the provider refused: %s", exc)
            return refusal(self.request, "sign_in_failed")
        except requests.RequestException as exc:
            logger.warning("single sign-on callback: the provider is unreachable: %s", exc)
            return refusal(self.request, "provider_unavailable")

    def login_success(self) -> HttpResponse:
        """No Django session login: the page gets a code to exchange for its JWT session."""
        app = self.request.session.get(APP_KEY)
        holder = services.code_holder(
            session_key=self.request.session.session_key, app_challenge=app and app["challenge"]
        )
        code = services.exchange_code_issue(user=self.user, holder=holder)
        return back(self.request, **{"oidc-code": code})

    def login_failure(self) -> HttpResponse:
        return refusal(
            self.request, "provider_refused" if self.request.GET.get("error") else "sign_in_failed"
        )
