from django.conf import settings
from django.http import HttpRequest

from . import provider


def sign_in_provider(request: HttpRequest) -> dict[str, str]:
    """The sign-in page's "Sign in with …" button: its label, or nothing when single sign-on is off."""
    return {"oidc_provider_name": settings.OIDC_PROVIDER_NAME if provider.enabled() else ""}
