"""The account behind a provider's identity (sso.services.identity_sign_in), without a provider:
the claims are what sso.provider hands over once the ID token and userinfo are checked."""

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import User
from imsuite.errors import DomainError
from sso import services
from sso.models import ExternalIdentity
from tests.db_state import assert_unchanged, whole_database

pytestmark = pytest.mark.django_db
ISSUER = "https://id.example.test"


def sign_in(sub: str, **claims: Any) -> User:
    return services.identity_sign_in(issuer=ISSUER, claims={"sub": sub, **claims})


def refused(reason: str, sub: str, **claims: Any) -> None:
    before = whole_database()
    with pytest.raises(DomainError) as caught:
        sign_in(sub, **claims)
    assert (caught.value.code, caught.value.details) == ("AUTHENTICATION_FAILED", {"reason": reason})
    assert_unchanged(before)


def test_the_first_sign_in_creates_the_account_from_the_claims() -> None:
    user = sign_in(
        "s1", preferred_username="Zoë Q.", name=" Zoë Quinn ", email="z@example.test", email_verified=True
    )
    assert (user.username, user.nickname, user.email, user.has_usable_password()) == (
        "ZoQ.",
        "Zoë Quinn",
        "z@example.test",
        False,
    )
    assert list(ExternalIdentity.objects.values_list("user_id", "issuer", "subject")) == [
        (user.pk, ISSUER, "s1")
    ]


def test_the_second_sign_in_is_the_same_account_whatever_the_claims_say_now() -> None:
    first = sign_in("s1", preferred_username="zoe")
    again = sign_in("s1", preferred_username="someone-else", email="x@example.test", email_verified=True)
    assert again.pk == first.pk and User.objects.count() == 1
    assert ExternalIdentity.objects.get().last_used_at is not None


def test_the_same_subject_at_another_issuer_is_another_person() -> None:
    first = sign_in("s1", preferred_username="zoe")
    other = services.identity_sign_in(issuer="https://other.example.test", claims={"sub": "s1"})
    assert other.pk != first.pk and other.username == "user"


def test_usernames_are_made_unique_case_insensitively(make_user: Callable[..., User]) -> None:
    make_user("Zoe")
    make_user("zoe-2")
    assert sign_in("s1", preferred_username="ZOE").username == "ZOE-3"


def test_without_a_usable_preferred_username_the_verified_email_names_the_account() -> None:
    assert sign_in(
        "s1", preferred_username="!!", email="kim.lee@example.test", email_verified=True
    ).username == ("kim.lee")
    assert sign_in("s2", preferred_username="!!", email="unverified@example.test").username == "user"


def test_an_unverified_email_is_not_kept() -> None:
    assert sign_in("s1", email="z@example.test", email_verified=False).email == ""
    assert sign_in("s2", email="y@example.test", email_verified="true").email == ""  # a string is no yes
    assert sign_in("s3", email="y" * 250 + "@x.test", email_verified=True).email == ""  # longer than fits


def test_an_account_with_the_verified_email_is_not_taken_over(make_user: Callable[..., User]) -> None:
    owner = make_user("owner")
    User.objects.filter(pk=owner.pk).update(email="Owner@Example.test")
    refused("email_in_use", "s1", email="owner@example.test", email_verified=True)
    # Unverified, the address proves nothing and takes nothing: a new account without it.
    assert sign_in("s1", email="owner@example.test").email == ""


def test_a_deactivated_account_is_refused() -> None:
    user = sign_in("s1")
    User.objects.filter(pk=user.pk).update(is_active=False)
    refused("user_inactive", "s1")


@pytest.mark.parametrize("sub", ["", None, 7, "s" * 256])
def test_claims_without_a_subject_are_refused(sub: Any) -> None:
    refused("claims_invalid", sub)
