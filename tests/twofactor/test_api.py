"""Two-factor sign-in over REST: enrolment, confirmation, the sign-in's second step, recovery codes,
replay, throttling and disabling; and the authorization matrix (whole database unchanged after
each refusal)."""

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from accounts.models import User
from imsuite.models import AuditEntry
from tests.accounts.test_api import PASSWORD, assert_error, check
from tests.db_state import assert_unchanged, whole_database
from twofactor import services
from twofactor.models import RecoveryCode, TwoFactor

pytestmark = pytest.mark.django_db


class Clock:
    """The TOTP clock, moved one 30-second step at a time so that each code is a fresh one."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def step(self) -> None:
        self.now += 30


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(services, "clock", fake)
    return fake


def code_now(secret: str, clock: Clock) -> str:
    return pyotp.TOTP(secret).at(clock.now)


def enrol(client: Any) -> str:
    body = check(client.post("/api/users/me/two-factor/enrol"), 200)
    assert body["qr_svg"].startswith("<svg") and body["qr_svg"].rstrip().endswith("</svg>")
    query = parse_qs(urlparse(body["otpauth_uri"]).query)
    assert body["otpauth_uri"].startswith("otpauth://totp/IM-Suite:")
    return query["secret"][0]


def enable(client: Any, clock: Clock) -> tuple[str, list[str]]:
    secret = enrol(client)
    codes = check(
        client.post("/api/users/me/two-factor/confirm", {"code": code_now(secret, clock)}, format="json"), 200
    )
    clock.step()
    return secret, codes["recovery_codes"]


def password_step(api: Any, username: str = "alice") -> str:
    body = assert_error(
        api.post("/api/auth/token", {"username": username, "password": PASSWORD}, format="json"),
        401,
        "AUTHENTICATION_FAILED",
        reason="two_factor_required",
        expires_in=300,
    )
    return body["details"]["challenge"]


def second_step(api: Any, **data: str) -> Any:
    return api.post("/api/auth/token/two-factor", data, format="json")


def test_enrol_confirm_and_sign_in_with_a_code(alice: User, api: Any, client_for: Any, clock: Clock) -> None:
    client = client_for(alice)
    assert check(client.get("/api/users/me/two-factor"), 200) == {
        "enabled": False,
        "pending": False,
        "required": False,
        "recovery_codes_left": 0,
    }
    secret, codes = enable(client, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}", c) for c in codes)
    row = TwoFactor.objects.get(user=alice)
    assert secret not in row.secret  # stored encrypted
    assert not any(
        c.replace("-", "") in h
        for c in codes
        for h in RecoveryCode.objects.values_list("code_hash", flat=True)
    )
    assert check(client.get("/api/users/me/two-factor"), 200)["recovery_codes_left"] == 10
    assert check(client.post("/api/users/me/two-factor/enrol"), 409)["details"] == {
        "reason": "already_enabled"
    }

    challenge = password_step(api)
    tokens = check(second_step(api, challenge=challenge, code=code_now(secret, clock)), 200)
    assert set(tokens) == {"access", "refresh"}
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert check(api.get("/api/users/me"), 200)["id"] == alice.pk
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["two_factor.enable"]


def test_a_code_is_not_accepted_twice(alice: User, api: Any, client_for: Any, clock: Clock) -> None:
    secret, _ = enable(client_for(alice), clock)
    challenge = password_step(api)
    code = code_now(secret, clock)
    check(second_step(api, challenge=challenge, code=code), 200)
    assert_error(
        second_step(api, challenge=challenge, code=code), 400, "VALIDATION_ERROR", reason="code_used"
    )
    previous = pyotp.TOTP(secret).at(clock.now - 30)  # an older step than the one used: refused too
    assert_error(
        second_step(api, challenge=challenge, code=previous), 400, "VALIDATION_ERROR", reason="code_used"
    )
    clock.step()
    check(second_step(api, challenge=challenge, code=code_now(secret, clock)), 200)


def test_recovery_codes_work_once_and_can_be_regenerated(
    alice: User, api: Any, client_for: Any, clock: Clock
) -> None:
    client = client_for(alice)
    secret, codes = enable(client, clock)
    challenge = password_step(api)
    check(second_step(api, challenge=challenge, recovery_code=codes[0].upper()), 200)
    assert_error(
        second_step(api, challenge=challenge, recovery_code=codes[0]),
        400,
        "VALIDATION_ERROR",
        reason="code_invalid",
    )
    assert check(client.get("/api/users/me/two-factor"), 200)["recovery_codes_left"] == 9
    fresh = check(
        client.post(
            "/api/users/me/two-factor/recovery-codes", {"code": code_now(secret, clock)}, format="json"
        ),
        200,
    )["recovery_codes"]
    assert set(fresh).isdisjoint(codes)
    assert_error(second_step(api, challenge=challenge, recovery_code=codes[1]), 400, "VALIDATION_ERROR")
    check(second_step(api, challenge=challenge, recovery_code=fresh[1]), 200)


def test_wrong_and_stale_challenges(
    alice: User, api: Any, client_for: Any, clock: Clock, settings: Any
) -> None:
    secret, _ = enable(client_for(alice), clock)
    challenge = password_step(api)
    assert_error(
        second_step(api, challenge=challenge, code="000000"), 400, "VALIDATION_ERROR", reason="code_invalid"
    )
    assert_error(
        second_step(api, challenge=challenge + "x", code=code_now(secret, clock)),
        401,
        "AUTHENTICATION_FAILED",
        reason="challenge_invalid",
    )
    alice.set_password("another-Passw0rd!")
    alice.save()  # a password change voids challenges of the old password
    assert_error(
        second_step(api, challenge=challenge, code=code_now(secret, clock)),
        401,
        "AUTHENTICATION_FAILED",
        reason="challenge_invalid",
    )


def test_codes_are_throttled_per_account(
    alice: User, api: Any, client_for: Any, clock: Clock, settings: Any
) -> None:
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_TWO_FACTOR": 3}
    secret, _ = enable(client_for(alice), clock)  # the confirmation counted once
    challenge = password_step(api)
    assert_error(second_step(api, challenge=challenge, code="000000"), 400, "VALIDATION_ERROR")
    assert_error(
        second_step(api, challenge=challenge, recovery_code="aaaa-bbbb-cccc"), 400, "VALIDATION_ERROR"
    )
    refused = second_step(api, challenge=challenge, code=code_now(secret, clock))
    assert_error(refused, 429, "RATE_LIMITED")
    assert refused["Retry-After"]


def test_disable_with_a_code_or_the_password(alice: User, api: Any, client_for: Any, clock: Clock) -> None:
    client = client_for(alice)
    secret, _ = enable(client, clock)
    assert_error(
        client.post("/api/users/me/two-factor/disable", {"password": "wrong"}, format="json"),
        400,
        "VALIDATION_ERROR",
        reason="wrong_password",
    )
    check(
        client.post("/api/users/me/two-factor/disable", {"code": code_now(secret, clock)}, format="json"), 204
    )
    assert not TwoFactor.objects.exists() and not RecoveryCode.objects.exists()
    check(api.post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json"), 200)
    enable(client, clock)
    check(client.post("/api/users/me/two-factor/disable", {"password": PASSWORD}, format="json"), 204)
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["two_factor.enable", "two_factor.disable", "two_factor.enable", "two_factor.disable"]


def test_a_pending_enrolment_does_not_ask_for_a_code(alice: User, api: Any, client_for: Any) -> None:
    enrol(client_for(alice))
    check(api.post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json"), 200)


# ---- authorization matrix ----------------------------------------------------------------------

OPERATIONS = {
    "status": ("get", "/api/users/me/two-factor", None),
    "enrol": ("post", "/api/users/me/two-factor/enrol", None),
    "confirm": ("post", "/api/users/me/two-factor/confirm", {"code": "123456"}),
    "recovery": ("post", "/api/users/me/two-factor/recovery-codes", {"code": "123456"}),
    "disable": ("post", "/api/users/me/two-factor/disable", {"code": "123456"}),
}
# status, error code and details.reason of each refusal; "ok" a success.
MATRIX = """
operation  anonymous  banned  bot   stranger      staff
status     401        401     ok    ok            ok
enrol      401        401     bot   ok            ok
confirm    401        401     bot   not_enrolling not_enrolling
recovery   401        401     bot   not_enabled   not_enabled
disable    401        401     bot   not_enabled   not_enabled
"""


def _banned(user: User) -> User:
    User.objects.filter(pk=user.pk).update(is_active=False)
    return user


def _rows() -> list[tuple[str, str, str]]:
    lines = MATRIX.strip().splitlines()
    actors = lines[0].split()[1:]
    return [
        (line.split()[0], actor, cell)
        for line in lines[1:]
        for actor, cell in zip(actors, line.split()[1:], strict=True)
    ]


@pytest.mark.parametrize(("operation", "actor", "expected"), _rows())
def test_authorization_matrix(
    operation: str, actor: str, expected: str, make_user: Any, client_for: Any, api: Any, moderator: User
) -> None:
    owner = make_user("owner")
    people = {
        "stranger": make_user("stranger"),
        "staff": moderator,
        "banned": _banned(make_user("banned")),
        "bot": User.objects.create(username="robot", is_bot=True, owner=owner),
    }
    client = api if actor == "anonymous" else client_for(people[actor])
    method, url, data = OPERATIONS[operation]
    before = whole_database()
    response = getattr(client, method)(url, data, format="json") if data else getattr(client, method)(url)
    if expected == "ok":
        assert response.status_code == 200, response.content
        return
    if expected == "401":
        assert_error(response, 401, "AUTHENTICATION_FAILED")
    elif expected == "bot":
        assert_error(response, 403, "PERMISSION_DENIED", reason="bot")
    else:
        assert_error(response, 409, "CONFLICT", reason=expected)
    assert_unchanged(before)


def test_wrong_codes_change_nothing(alice: User, client_for: Any, clock: Clock) -> None:
    """Refused codes leave the database as it was (the throttle counts in the cache)."""
    client = client_for(alice)
    enable(client, clock)
    before = whole_database()
    for url in ("/api/users/me/two-factor/recovery-codes", "/api/users/me/two-factor/disable"):
        assert_error(
            client.post(url, {"code": "000000"}, format="json"),
            400,
            "VALIDATION_ERROR",
            reason="code_invalid",
        )
    assert_unchanged(before)


def test_time_moves_on(clock: Clock) -> None:
    """The fake clock is what the service reads (a real one would make code reuse flaky)."""
    assert services.clock() == clock.now != time.time()
