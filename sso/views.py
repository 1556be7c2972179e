"""The browser's way through the provider: /oidc/start/ sends it there (state, nonce and PKCE
verifier kept in its Django session by mozilla-django-oidc), /oidc/callback/ takes it back and
ends on the web client with a one-time code, or the reason of a refusal, in the URL fragment:
a fragment is never sent to a server nor in a Referer (docs/protocol.md, "Single sign-on")."""

import logging
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from imsuite.errors import DomainError

from . import provider, services

logger = logging.getLogger(__name__)


def back_to_the_page(**fragment: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("home") + "#" + urlencode(fragment))


def refusal(reason: str) -> HttpResponseRedirect:
    return back_to_the_page(**{"oidc-error": reason})


class StartView(OIDCAuthenticationRequestView):
    def __init__(self, **kwargs: object) -> None:  # the endpoint is discovered per request, not set
        super(OIDCAuthenticationRequestView, self).__init__(**kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request: HttpRequest) -> HttpResponse:
        if not provider.enabled():
            raise Http404
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider.metadata().authorization_endpoint
        except DomainError as exc:
            logger.warning("single sign-on start: %s", exc)
            return refusal(exc.details["reason"])
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
            return refusal("state_mismatch")
        except DomainError as exc:
            logger.warning("single sign-on callback refused: %s", exc)
            return refusal(exc.details.get("reason", "sign_in_failed"))
        except requests.HTTPError as exc:  # the provider refused the code (used, expired, foreign)
            logger.warning("single sign-on callback: the provider refused: %s", exc)
            return refusal("sign_in_failed")
        except requests.RequestException as exc:
            logger.warning("single sign-on callback: the provider is unreachable: %s", exc)
            return refusal("provider_unavailable")

    def login_success(self) -> HttpResponse:
        """No Django session login: the page gets a code to exchange for its JWT session."""
        code = services.exchange_code_issue(user=self.user, browser=self.request.session.session_key or "")
        return back_to_the_page(**{"oidc-code": code})

    def login_failure(self) -> HttpResponse:
        return refusal("provider_refused" if self.request.GET.get("error") else "sign_in_failed")
