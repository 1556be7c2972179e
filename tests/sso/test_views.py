"""Single sign-on off (the default) and a provider that cannot be reached; the flow itself runs
against a real provider in tests/e2e/test_sso.py."""

import socket
from typing import Any

import pytest
from django.test import Client

from imsuite.errors import DomainError
from sso import provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def unreachable_provider(settings: Any) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.OIDC_ISSUER = f"http://127.0.0.1:{port}"
    settings.OIDC_RP_CLIENT_ID = "imsuite"
    provider._discovered.clear()


@pytest.mark.parametrize("path", ["/oidc/start/", "/oidc/callback/?code=c&state=s"])
def test_without_a_provider_the_doors_are_not_there(path: str) -> None:
    assert Client().get(path).status_code == 404


def test_without_a_provider_the_sign_in_page_offers_none() -> None:
    page = Client().get("/").content.decode()
    assert 'data-testid="signin-form"' in page and "oidc-signin" not in page
    assert Client().get("/api/auth/oidc").json() == {"enabled": False, "name": "", "start_url": ""}


@pytest.mark.usefixtures("unreachable_provider")
def test_clients_are_told_where_to_start(settings: Any) -> None:
    settings.OIDC_PROVIDER_NAME = "Example ID"
    answer = Client().get("/api/auth/oidc")
    assert answer.json() == {"enabled": True, "name": "Example ID", "start_url": "/oidc/start/"}


@pytest.mark.usefixtures("unreachable_provider")
def test_an_unreachable_provider_ends_on_the_page_with_the_reason() -> None:
    answer = Client().get("/oidc/start/")
    assert (answer.status_code, answer["Location"]) == (302, "/#oidc-error=provider_unavailable")
    assert 'data-testid="oidc-signin"' in Client().get("/").content.decode()


@pytest.mark.usefixtures("unreachable_provider")
def test_a_callback_without_a_started_sign_in_is_refused() -> None:
    answer = Client().get("/oidc/callback/?code=c&state=s")
    assert (answer.status_code, answer["Location"]) == (302, "/#oidc-error=sign_in_failed")


@pytest.mark.parametrize("token", [None, "not-a-jws", "a.b.c"])
def test_an_id_token_that_is_no_jws_is_refused(token: str | None, settings: Any) -> None:
    """Whatever the token endpoint hands over, the answer is a refusal, never a 500."""
    settings.OIDC_ISSUER, settings.OIDC_RP_CLIENT_ID = "https://id.example.test", "imsuite"
    backend = provider.ProviderBackend()
    backend.meta = provider.Metadata(settings.OIDC_ISSUER, "", "", "", "")
    backend.OIDC_RP_SIGN_ALGO, backend.OIDC_RP_IDP_SIGN_KEY, backend.OIDC_RP_CLIENT_ID = (
        "RS256",
        "{}",
        "imsuite",
    )
    with pytest.raises(DomainError) as caught:
        backend.verify_token(token, nonce="n")
    assert caught.value.details == {"reason": "id_token_invalid"}
