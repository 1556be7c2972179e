"""The Django admin's sign-in asks an enrolled person for their second factor, and (with
TWO_FACTOR_REQUIRED_FOR_STAFF) keeps staff without one out until they enrol."""

from typing import Any

import pyotp
import pytest
from django.test import Client

from accounts.models import User
from imsuite.errors import DomainError
from imsuite.models import AuditEntry
from tests.accounts.test_api import PASSWORD
from tests.db_state import assert_unchanged, whole_database
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


def test_a_moderator_turns_off_a_lost_second_factor_in_admin(
    moderator: User, make_user: Any, staff: Client
) -> None:
    ann = make_user("ann")
    enrolled(ann)
    page = staff.get("/admin/twofactor/twofactor/")
    assert page.status_code == 200 and "ann" in page.content.decode()
    row = services.TwoFactor.objects.get(user=ann)
    answer = staff.post("/admin/twofactor/twofactor/", {"action": "reset", "_selected_action": [row.pk]})
    assert answer.status_code == 302
    assert not services.is_enabled(ann) and not services.RecoveryCode.objects.filter(user=ann).exists()
    assert list(AuditEntry.objects.order_by("pk").values_list("action", "actor_id", "target_id")) == [
        ("two_factor.enable", ann.pk, ann.pk),
        ("two_factor.reset", moderator.pk, ann.pk),
    ]


@pytest.mark.parametrize("actor", ["stranger", "bot", "self"])
def test_only_moderators_reset_a_second_factor(actor: str, make_user: Any) -> None:
    ann = make_user("ann")
    enrolled(ann)
    stranger = make_user("stranger")
    people = {
        "stranger": stranger,
        "self": ann,
        "bot": User.objects.create(username="robot", is_bot=True, owner=stranger),
    }
    before = whole_database()
    with pytest.raises(DomainError) as refused:
        services.two_factor_reset(actor=people[actor], user_id=ann.pk)
    assert (refused.value.code, refused.value.details) == ("PERMISSION_DENIED", {"reason": "not_moderator"})
    assert_unchanged(before)
