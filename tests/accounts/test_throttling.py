"""Abuse throttling through REST: sign-in backoff against brute force (1,000 wrong passwords from one
address, from many, and across many accounts) with the owner still signing in from their own
address; registrations per address; friend and join requests per user. The clock is the limiter's
(imsuite.ratelimit.time), moved by the test: a wait is a refusal with retry_after, never a sleep."""

import json
import math
from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from rest_framework.test import APIClient

from accounts.models import FriendRequest, User
from groups import services as group_services
from groups.models import JoinRequest
from imsuite import ratelimit
from imsuite.asgi import application
from imsuite.errors import DomainError
from imsuite.ip_networks import client_key, networks
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

OWNER_HOME = "198.51.100.7"
ATTACKER = "203.0.113.9"
ATTEMPTS = 1000
START = 1_700_000_000.0
CLIENT = APIClient()  # one handler for all: each new client loads the middleware again (WhiteNoise scans)


class Clock:
    """The limiter's time, moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=clock.time))
    return clock


@pytest.fixture(autouse=True)
def documented_limits(settings) -> None:
    """Small numbers that the schedules below spell out: 5 free failures per (account, address),
    10 per account, 20 per address; then 1 s, doubling, at most 60 s."""
    settings.IMSUITE = {
        **settings.IMSUITE,
        "SIGNIN_FREE_FAILURES": 5,
        "SIGNIN_ACCOUNT_FREE_FAILURES": 10,
        "SIGNIN_ADDRESS_FREE_FAILURES": 20,
        "SIGNIN_DELAY_SECONDS": 1,
        "SIGNIN_DELAY_MAX_SECONDS": 60,
    }


def sign_in(address: str, username: str = "alice", password: str = PASSWORD):
    return CLIENT.post(
        "/api/auth/token", {"username": username, "password": password}, format="json", REMOTE_ADDR=address
    )


def refused(response, retry_after: int) -> None:
    """The throttle's answer, exactly."""
    assert response.status_code == 429, response.content
    assert response["Retry-After"] == str(retry_after)
    assert response.json() == {
        "error_code": "RATE_LIMITED",
        "message": "Too many failed attempts: wait before trying again.",
        "details": {"retry_after": retry_after, "reason": "sign_in_failures"},
    }


def wrong(response) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["error_code"] == "AUTHENTICATION_FAILED"
    assert "Retry-After" not in response


def signed_in(response) -> None:
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access", "refresh"}


def brute_force(clock: Clock, attempt) -> list[int]:
    """One attempt a second for ATTEMPTS seconds; the seconds at which the password was checked
    (401). Every other attempt must be refused with the seconds left until the next check."""
    checked: list[int] = []
    refusals: list[tuple[int, int]] = []
    for second in range(ATTEMPTS):
        clock.now = START + second
        response = attempt(second)
        if response.status_code == 429:
            refusals.append((second, int(response["Retry-After"])))
            refused(response, refusals[-1][1])
        else:
            wrong(response)
            checked.append(second)
    for second, retry_after in refusals:  # retry_after points at the next second that is checked
        assert second + retry_after == next((s for s in checked if s > second), checked[-1] + 60)
    return checked


def backoff_schedule(free: int) -> list[int]:
    """The seconds checked at one attempt a second: `free` at once, then waits of 1, 2, 4, 8, 16,
    32 s, then 60 s (the cap) for ever."""
    seconds = list(range(free))
    for wait in (1, 2, 4, 8, 16, 32):
        seconds.append(seconds[-1] + wait)
    while seconds[-1] + 60 < ATTEMPTS:
        seconds.append(seconds[-1] + 60)
    return seconds


def test_the_schedule_is_the_documented_one():
    assert backoff_schedule(5)[:13] == [0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67, 127, 187]


def test_one_address_guessing_one_password_is_slowed_and_the_owner_signs_in_from_home(alice, clock):
    signed_in(sign_in(OWNER_HOME))  # the owner's own address is known from an earlier sign-in
    checked = brute_force(clock, lambda _: sign_in(ATTACKER, password="wrong-Passw0rd"))
    assert checked == backoff_schedule(5)
    assert len(checked) == 26  # of 1,000
    signed_in(sign_in(OWNER_HOME))
    refused(sign_in(ATTACKER), 60 - (ATTEMPTS - 1 - checked[-1]))  # not even the right password


def test_many_addresses_slow_the_account_for_new_addresses_only(alice, clock):
    signed_in(sign_in(OWNER_HOME))
    addresses = [f"10.{n // 250}.{n % 250}.1" for n in range(ATTEMPTS)]
    checked = brute_force(clock, lambda second: sign_in(addresses[second], password="wrong-Passw0rd"))
    assert checked == backoff_schedule(10)
    signed_in(sign_in(OWNER_HOME))  # her own address answers to its own counter alone
    wait = 60 - (ATTEMPTS - 1 - checked[-1])
    refused(sign_in("192.0.2.50"), wait)  # a new address waits out the account's delay, no longer
    clock.now += wait
    signed_in(sign_in("192.0.2.50"))


def test_one_address_trying_many_accounts_is_slowed_but_not_the_owner_behind_it(alice, clock):
    """Credential stuffing from the owner's own network (one NAT address): the address is slowed,
    the owner, known there, is not."""
    signed_in(sign_in(ATTACKER))
    checked = brute_force(clock, lambda second: sign_in(ATTACKER, username=f"victim{second}"))
    assert checked == backoff_schedule(20)
    signed_in(sign_in(ATTACKER))
    refused(sign_in(ATTACKER, username="bob"), 60 - (ATTEMPTS - 1 - checked[-1]))


def test_a_success_forgets_the_pairs_failures(alice, clock):
    for _ in range(5):
        wrong(sign_in(OWNER_HOME, password="typo-Passw0rd"))
    refused(sign_in(OWNER_HOME), 1)
    clock.now += 1
    signed_in(sign_in(OWNER_HOME))
    for _ in range(5):  # five free failures again, and known now: no other counter applies
        wrong(sign_in(OWNER_HOME, password="typo-Passw0rd"))
    refused(sign_in(OWNER_HOME), 1)


def test_the_account_is_one_whatever_the_case_and_ipv6_counts_per_64(alice, clock):
    for n in range(5):
        wrong(sign_in(f"2001:db8:1:2::{n + 1}", username="ALICE" if n % 2 else "alice", password="x"))
    refused(sign_in("2001:db8:1:2:ffff::9"), 1)
    signed_in(sign_in("2001:db8:1:3::1"))  # another /64


NGINX = "172.30.0.10"


async def sign_in_through_asgi(
    peer: str, forwarded: str | None, username: str = "alice"
) -> tuple[int, dict[bytes, bytes], dict]:
    """A wrong password to imsuite.asgi.application from `peer`, with an X-Forwarded-For or none:
    the status, headers and body."""
    body = json.dumps({"username": username, "password": "wrong-Passw0rd"}).encode()
    headers = [(b"host", b"localhost"), (b"content-type", b"application/json")]
    headers += [(b"content-length", str(len(body)).encode())]
    if forwarded is not None:
        headers.append((b"x-forwarded-for", forwarded.encode()))
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/auth/token",
        "raw_path": b"/api/auth/token",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": [peer, 50000],
        "server": ["localhost", 8080],
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": body})
    start = await communicator.receive_output(5)
    chunks = [await communicator.receive_output(5)]
    while chunks[-1].get("more_body"):
        chunks.append(await communicator.receive_output(5))
    await communicator.wait(5)
    return start["status"], dict(start["headers"]), json.loads(b"".join(c["body"] for c in chunks))


@pytest.mark.django_db(transaction=True)
async def test_the_address_is_the_trusted_proxys_word_and_nobody_elses(alice, clock, monkeypatch):
    """Behind nginx (TRUSTED_PROXIES) each forwarded client has its own counters; a client that
    writes X-Forwarded-For itself is counted by its own address whatever it writes."""
    monkeypatch.setattr(application, "trusted", networks([f"{NGINX}/32"]))
    for n in range(5):
        assert (await sign_in_through_asgi(ATTACKER, f"10.9.8.{n}"))[0] == 401
        assert (await sign_in_through_asgi(NGINX, f"192.0.2.{n}", "bob"))[0] == 401
    status, headers, body = await sign_in_through_asgi(ATTACKER, "10.9.8.200")
    assert (status, headers[b"Retry-After"], body["details"]) == (
        429,
        b"1",
        {"retry_after": 1, "reason": "sign_in_failures"},
    )
    assert (await sign_in_through_asgi(NGINX, "192.0.2.0", "bob"))[0] == 401  # one failure there yet
    assert (await sign_in_through_asgi(NGINX, ATTACKER))[0] == 429  # the same client via nginx


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("", "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_client_key(text, key):
    assert client_key(text) == key


# --- per address and per user --------------------------------------------------------------------


def register(address: str, username: str):
    return CLIENT.post(
        "/api/auth/register", {"username": username, "password": PASSWORD}, format="json", REMOTE_ADDR=address
    )


def limit_refused(response, retry_after: int, limit: int, window: int) -> None:
    assert response.status_code == 429, response.content
    assert response["Retry-After"] == str(retry_after)
    assert response.json() == {
        "error_code": "RATE_LIMITED",
        "message": f"Too many requests: at most {limit} every {window} seconds.",
        "details": {"retry_after": retry_after, "limit": limit, "window_seconds": window},
    }


def limits(settings, **values: Any) -> None:
    settings.IMSUITE = {**settings.IMSUITE, **values}


def test_registrations_per_address(settings, clock):
    limits(settings, RATE_LIMIT_REGISTRATIONS=2, RATE_LIMIT_REGISTRATIONS_WINDOW_SECONDS=3600)
    clock.now = 3600 * 500_000 + 600.5
    assert register(ATTACKER, "dave").status_code == 201
    assert register(ATTACKER, "dave").status_code == 409  # a refused attempt counts too
    limit_refused(register(ATTACKER, "erin"), 3000, 2, 3600)
    assert register(OWNER_HOME, "erin").status_code == 201
    assert sorted(User.objects.values_list("username", flat=True)) == ["dave", "erin"]


def test_friend_requests_per_user(settings, clock, alice, make_user, client_for):
    limits(settings, RATE_LIMIT_FRIEND_REQUESTS=2, RATE_LIMIT_FRIEND_REQUESTS_WINDOW_SECONDS=3600)
    clock.now = 3600 * 500_000 + 0.5
    others = [make_user() for _ in range(3)]
    client = client_for(alice)
    for other in others[:2]:
        assert client.post("/api/friends/requests", {"user_id": other.pk}, format="json").status_code == 201
    response = client.post("/api/friends/requests", {"user_id": others[2].pk}, format="json")
    limit_refused(response, 3600, 2, 3600)
    assert FriendRequest.objects.count() == 2
    other = client_for(others[2]).post("/api/friends/requests", {"user_id": alice.pk}, format="json")
    assert other.status_code == 201  # another person's budget


def test_join_requests_per_user(settings, clock, alice, bob, client_for):
    limits(settings, RATE_LIMIT_JOIN_REQUESTS=1, RATE_LIMIT_JOIN_REQUESTS_WINDOW_SECONDS=60)
    clock.now = 60 * 30_000_000 + 45.5
    groups = [group_services.group_create(actor=bob, name=f"g{n}", member_ids=[]) for n in range(2)]
    client = client_for(alice)
    assert client.post(f"/api/groups/{groups[0].pk}/join-requests", {}, format="json").status_code == 201
    limit_refused(client.post(f"/api/groups/{groups[1].pk}/join-requests", {}, format="json"), 15, 1, 60)
    assert list(JoinRequest.objects.values_list("group_id", flat=True)) == [groups[0].pk]


def test_a_named_limit_is_ready_for_reports(settings, clock):
    limits(settings, RATE_LIMIT_REPORTS=1, RATE_LIMIT_REPORTS_WINDOW_SECONDS=10)
    clock.now = 10 * 170_000_000 + 2.5
    ratelimit.rate_limit_named("REPORTS", 7)
    with pytest.raises(DomainError) as refusal:
        ratelimit.rate_limit_named("REPORTS", 7)
    assert refusal.value.details == {"retry_after": 8, "limit": 1, "window_seconds": 10}


def test_sign_in_goes_on_while_the_cache_cannot_be_reached(alice, settings, caplog, monkeypatch):
    """Like every limit: nothing counted and nothing refused while Redis is away, one warning."""
    monkeypatch.setattr(ratelimit, "_warned_at", -math.inf)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    for _ in range(7):
        wrong(sign_in(ATTACKER, password="wrong-Passw0rd"))
    signed_in(sign_in(ATTACKER))
    assert "rate limits are not counted: the cache cannot be reached" in caplog.text


def test_the_admin_sign_in_answers_to_the_same_counters(alice, clock, client):
    def admin_sign_in(password: str):
        form = {"username": "alice", "password": password, "next": "/admin/"}
        return client.post("/admin/login/", form, REMOTE_ADDR=ATTACKER)

    for _ in range(4):
        assert "Please enter the correct username and password" in admin_sign_in("wrong").content.decode()
    wrong(sign_in(ATTACKER, password="wrong-Passw0rd"))  # the fifth, through the API
    page = admin_sign_in(PASSWORD).content.decode()
    assert "Too many failed sign-ins: try again in 1 s." in page
    refused(sign_in(ATTACKER), 1)
    clock.now += 1
    assert admin_sign_in(PASSWORD).status_code == 200  # right, though not staff: a success
    signed_in(sign_in(ATTACKER))
