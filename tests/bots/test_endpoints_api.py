"""REST for a bot's reverse endpoints: /api/bots/{id}/reverse-endpoints (GET, POST) and
/api/bots/{id}/reverse-endpoints/{endpoint_id} (DELETE), by the bot's owner or a moderator."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.services import bot_create
from bots.models import ReverseEndpoint
from bots.selectors import ALIVE_MISSED, ALIVE_SECONDS
from bots.services import (
    MAX_ENDPOINTS_PER_BOT,
    reverse_endpoint_alive,
    reverse_endpoint_attempted,
    reverse_endpoint_connected,
)

pytestmark = pytest.mark.django_db

URL = "ws://127.0.0.1:6700/onebot/v11/ws"


def check(response: Any, status: int) -> Any:
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def endpoints(bot_id: int) -> str:
    return f"/api/bots/{bot_id}/reverse-endpoints"


def add(client: Any, bot_id: int, **data: Any) -> Any:
    return client.post(endpoints(bot_id), {"url": URL, **data}, format="json")


def shown(row: ReverseEndpoint) -> dict[str, Any]:
    return {
        "id": row.pk,
        "bot_id": row.bot_id,
        "url": row.url,
        "has_access_token": bool(row.access_token),
        "last_error": row.last_error,
        "last_error_at": row.last_error_at,
        "dialect": row.dialect,
        "last_complaint": row.last_complaint,
        "last_complaint_at": row.last_complaint_at,
        "connected": False,
        "connected_at": None,
        "events_waiting": 0,
    }


def without_time(body: dict[str, Any], row: ReverseEndpoint) -> dict[str, Any]:
    assert datetime.fromisoformat(body.pop("created_at")) == row.created_at
    return body


@pytest.mark.parametrize(
    ("data", "has_token"),
    [({"access_token": "s3cret"}, True), ({"access_token": ""}, False), ({}, False)],
    ids=["with token", "blank token", "no token"],
)
def test_owner_registers_and_lists_endpoints(alice, bot, client_for, data, has_token):
    client = client_for(alice)
    body = check(add(client, bot.pk, **data), 201)
    row = ReverseEndpoint.objects.get()
    assert (row.bot_id, row.url, row.access_token) == (bot.pk, URL, data.get("access_token", ""))
    assert without_time(body, row) == shown(row) | {"has_access_token": has_token}
    [listed] = check(client.get(endpoints(bot.pk)), 200)
    assert without_time(listed, row) == shown(row)
    assert "s3cret" not in str(body) + str(listed)


@pytest.mark.parametrize(
    "url", ["wss://93.184.215.14/ws", "ws://[::1]:8080", "  ws://127.0.0.1:1/x  ", "ws://localhost:6700"]
)
def test_ws_and_wss_urls_are_accepted(alice, bot, client_for, url):
    body = check(add(client_for(alice), bot.pk, url=url), 201)
    assert body["url"] == url.strip() == ReverseEndpoint.objects.get().url


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"url": "http://127.0.0.1:6700/ws"}, "url"),
        ({"url": "https://bots.example.com/ws"}, "url"),
        ({"url": "ws://"}, "url"),
        ({"url": "127.0.0.1:6700"}, "url"),
        ({"url": 6700}, "url"),
        ({"url": "ws://127.0.0.1:70000/ws"}, "url"),
        ({"url": "ws://[zz]/ws"}, "url"),
        ({"url": f"ws://{'a' * 64}.example/ws"}, "url"),
        ({"url": URL, "access_token": 5}, "access_token"),
        ({"url": URL, "token": "s3cret"}, "token"),
        ({"url": URL, "dialect": "klingon"}, "dialect"),
        ({"url": URL, "dialect": 5}, "dialect"),
    ],
)
def test_bad_input_is_400_naming_the_field(alice, bot, client_for, data, field):
    body = check(client_for(alice).post(endpoints(bot.pk), data, format="json"), 400)
    assert (body["error_code"], body["details"]["field"]) == ("VALIDATION_ERROR", field)
    assert not ReverseEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "ws://127.0.0.1:5432/",
        "ws://localhost:6700/ws",  # a name that resolves to a refused address
        "ws://169.254.169.254/latest/meta-data",
        "ws://[fd00:ec2::254]/",
        "ws://10.0.0.7/ws",
        "wss://192.168.1.1/ws",
        "ws://100.64.0.1/ws",
        "ws://[::1]:8080/ws",
        "ws://[::ffff:127.0.0.1]/ws",
        "ws://0.0.0.0:6700/ws",
    ],
)
def test_a_url_to_a_refused_address_is_400(alice, bot, client_for, settings, url):
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # the production default
    body = check(client_for(alice).post(endpoints(bot.pk), {"url": url}, format="json"), 400)
    assert (body["error_code"], body["details"]) == (
        "VALIDATION_ERROR",
        {"field": "url", "reason": "address_not_allowed"},
    )
    assert body["message"].startswith("address_not_allowed: ")
    assert not ReverseEndpoint.objects.exists()


def test_the_setting_lets_a_network_through(alice, bot, client_for, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    check(add(client_for(alice), bot.pk, url="ws://10.0.0.7/ws"), 201)
    body = check(add(client_for(alice), bot.pk, url="ws://127.0.0.1/ws"), 400)
    assert body["details"]["reason"] == "address_not_allowed"


def test_missing_url_is_400(alice, bot, client_for):
    body = check(client_for(alice).post(endpoints(bot.pk), {}, format="json"), 400)
    assert (body["error_code"], body["details"]["field"]) == ("VALIDATION_ERROR", "url")


def test_duplicate_is_409(alice, bot, client_for):
    client = client_for(alice)
    check(add(client, bot.pk), 201)
    body = check(add(client, bot.pk, access_token="other"), 409)
    assert (body["error_code"], body["details"]) == ("CONFLICT", {"reason": "duplicate"})
    assert ReverseEndpoint.objects.count() == 1


def test_endpoints_per_bot_are_limited(alice, bot, client_for):
    client = client_for(alice)
    for n in range(MAX_ENDPOINTS_PER_BOT):
        check(add(client, bot.pk, url=f"{URL}/{n}"), 201)
    body = check(add(client, bot.pk, url=f"{URL}/more"), 409)
    assert body["details"] == {"reason": "endpoint_limit", "limit": MAX_ENDPOINTS_PER_BOT}
    assert ReverseEndpoint.objects.count() == MAX_ENDPOINTS_PER_BOT
    other, _ = bot_create(actor=alice, username="robo2")
    check(add(client, other.pk), 201)  # the limit is per bot


def test_delete(alice, bot, client_for):
    client = client_for(alice)
    kept, gone = (check(add(client, bot.pk, url=f"{URL}/{n}"), 201)["id"] for n in (1, 2))
    assert check(client.delete(f"{endpoints(bot.pk)}/{gone}"), 204) is None
    assert list(ReverseEndpoint.objects.values_list("pk", flat=True)) == [kept]
    check(client.delete(f"{endpoints(bot.pk)}/{gone}"), 404)


def test_another_users_bot_is_not_found(alice, bob, bot, client_for):
    row = ReverseEndpoint.objects.create(bot=bot, url=URL, access_token="s3cret")
    client = client_for(bob)
    for response in (
        client.get(endpoints(bot.pk)),
        add(client, bot.pk, url=f"{URL}/bob"),
        client.delete(f"{endpoints(bot.pk)}/{row.pk}"),
        client.get(endpoints(alice.pk)),  # a person is no bot
        client.get(endpoints(10**9)),
    ):
        assert check(response, 404)["error_code"] == "NOT_FOUND"
    assert list(ReverseEndpoint.objects.values_list("pk", "url")) == [(row.pk, URL)]


def test_endpoint_of_another_bot_is_not_found(alice, bot, client_for):
    other, _ = bot_create(actor=alice, username="robo2")
    row = ReverseEndpoint.objects.create(bot=other, url=URL)
    check(client_for(alice).delete(f"{endpoints(bot.pk)}/{row.pk}"), 404)
    assert ReverseEndpoint.objects.filter(pk=row.pk).exists()


def test_moderator_manages_any_bots_endpoints(moderator, bot, client_for):
    client = client_for(moderator)
    created = check(add(client, bot.pk, access_token="s3cret"), 201)
    assert (created["bot_id"], created["has_access_token"]) == (bot.pk, True)
    assert [e["id"] for e in check(client.get(endpoints(bot.pk)), 200)] == [created["id"]]
    check(client.delete(f"{endpoints(bot.pk)}/{created['id']}"), 204)
    assert not ReverseEndpoint.objects.exists()
    check(client.get(endpoints(moderator.pk)), 404)  # still only bots have endpoints


def test_signed_out_is_401(api, bot):
    assert check(api.get(endpoints(bot.pk)), 401)["error_code"] == "AUTHENTICATION_FAILED"


def test_the_services_know_every_dialect_by_name():
    """bots.dialect_names (what the services check) and the dialects themselves agree."""
    from bots.dialect_names import DEFAULT, NAMES
    from bots.dialects import DIALECTS

    assert set(NAMES) == set(DIALECTS) and DEFAULT in NAMES


def test_the_service_refuses_an_unknown_dialect(alice, bot):
    from bots.services import reverse_endpoint_create
    from imsuite.errors import DomainError

    with pytest.raises(DomainError) as refused:
        reverse_endpoint_create(actor=alice, bot_id=bot.pk, url=URL, dialect="klingon")
    assert refused.value.details == {"field": "dialect", "reason": "unknown_dialect"}
    assert not ReverseEndpoint.objects.exists()


def test_the_list_shows_whether_the_bridge_is_connected(alice, bot, client_for):
    """The bridge notes a connection and says every ALIVE_SECONDS that it is still open; a bridge
    that went silent (its process was killed) reads as not connected."""
    client = client_for(alice)
    row = ReverseEndpoint.objects.get(pk=check(add(client, bot.pk), 201)["id"])
    reverse_endpoint_attempted(endpoint_id=row.pk, error="refused")
    reverse_endpoint_connected(endpoint_id=row.pk, connected=True)
    row.refresh_from_db()
    listed = check(client.get(endpoints(bot.pk)), 200)
    assert [without_time(body, row) for body in listed] == [
        shown(row) | {"connected": True, "connected_at": row.connected_at.isoformat().replace("+00:00", "Z")}
    ]
    assert row.last_error == ""
    silent = timezone.now() - timedelta(seconds=ALIVE_SECONDS * ALIVE_MISSED + 1)
    ReverseEndpoint.objects.filter(pk=row.pk).update(alive_at=silent)
    assert [body["connected"] for body in check(client.get(endpoints(bot.pk)), 200)] == [False]
    reverse_endpoint_alive(endpoint_id=row.pk)
    assert [body["connected"] for body in check(client.get(endpoints(bot.pk)), 200)] == [True]
    reverse_endpoint_connected(endpoint_id=row.pk, connected=False)
    reverse_endpoint_alive(endpoint_id=row.pk)  # one on its way as the connection closed changes nothing
    row.refresh_from_db()
    assert (row.connected_at, row.alive_at) == (None, None)
    assert [without_time(body, row) for body in check(client.get(endpoints(bot.pk)), 200)] == [shown(row)]
