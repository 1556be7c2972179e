"""The Django admin's sign-in asks an enrolled person for their second factor, and (with
TWO_FACTOR_REQUIRED_FOR_STAFF) keeps staff without one out until they enrol."""

from typing import Any

import pyotp
import pytest
from django.test import Client

from accounts.models import User
from tests.accounts.test_api import PASSWORD
from twofactor import services

pytestmark = pytest.mark.django_db


def sign_in(second_factor: str = "") -> Any:
    data = {"username": "mod", "password": PASSWORD, "second_factor": second_factor, "next": "/admin/"}
    return Client().post("/admin/login/?next=/admin/", data)


def enrolled(user: User) -> tuple[pyotp.TOTP, list[str]]:
    uri = services.two_factor_enrol(actor=user)["otpauth_uri"]
    totp = pyotp.TOTP(pyotp.parse_uri(uri).secret)
    codes = services.two_factor_confirm(actor=user, code=totp.at(services.clock() - 30))
    return totp, codes


def test_an_enrolled_moderator_needs_the_code(moderator: User) -> None:
    totp, codes = enrolled(moderator)
    for wrong in ("", "000000"):
        refused = sign_in(wrong)
        assert refused.status_code == 200
        assert "The two-factor code is missing or not valid." in refused.content.decode()
    assert sign_in(totp.now()).status_code == 302
    assert sign_in(codes[0]).status_code == 302
    assert sign_in(codes[0]).status_code == 200  # a recovery code works once


def test_without_two_factor_the_password_is_enough_unless_required(moderator: User, settings: Any) -> None:
    page = Client().get("/admin/login/").content.decode()
    assert 'name="second_factor"' in page
    assert sign_in().status_code == 302
    settings.IMSUITE = {**settings.IMSUITE, "TWO_FACTOR_REQUIRED_FOR_STAFF": True}
    refused = sign_in()
    assert refused.status_code == 200
    assert "Two-factor sign-in is required for staff" in refused.content.decode()
    totp, _ = enrolled(moderator)
    assert sign_in(totp.now()).status_code == 302
