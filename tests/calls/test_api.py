"""GET /api/calls (the signed-in user's call history) and the Call admin."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from calls.models import Call
from tests.accounts.test_api import assert_error, check

from .test_services import T0, wire

pytestmark = pytest.mark.django_db

URL = "/api/calls"
END_REASONS = {"answered": "user_hangup", "missed": "timeout", "rejected": "rejected", "busy": "busy"}


def make_call(
    caller: User,
    callee: User,
    status: str = "answered",
    *,
    minute: int = 0,
    state: str = "ended",
    call_type: str = "audio",
    duration: int = 0,
) -> Call:
    """A call begun `minute` minutes after T0 (answered 3 s in), ended `duration` s after the answer."""
    started = T0 + timedelta(minutes=minute)
    answered = started + timedelta(seconds=3) if status == "answered" or state == "active" else None
    ended = (answered or started) + timedelta(seconds=duration) if state == "ended" else None
    call = Call.objects.create(
        call_id=f"call_{caller.pk}_{callee.pk}_{minute}",
        caller=caller,
        callee=callee,
        call_type=call_type,
        state=state,
        outcome=status if state == "ended" else "",
        answered_at=answered,
        ended_at=ended,
        end_reason=END_REASONS[status] if state == "ended" else "",
        duration=duration,
    )
    Call.objects.filter(pk=call.pk).update(created_at=started)  # auto_now_add otherwise
    call.refresh_from_db()
    return call


def item(call: Call, viewer: User) -> dict[str, Any]:
    """The history entry of a call, as the viewer sees it."""
    outgoing = call.caller_id == viewer.pk
    peer = call.callee if outgoing else call.caller
    return wire(
        {
            "id": call.pk,
            "call_id": call.call_id,
            "peer": {
                "id": peer.pk,
                "nickname": peer.nickname or peer.username,
                "avatar_url": peer.avatar_url,
            },
            "call_type": call.call_type,
            "direction": "outgoing" if outgoing else "incoming",
            "status": call.outcome,
            "started_at": call.created_at,
            "answered_at": call.answered_at,
            "ended_at": call.ended_at,
            "duration": call.duration,
            "end_reason": call.end_reason,
        }
    )


@pytest.fixture
def history(alice: User, bob: User, carol: User) -> dict[str, Call]:
    return {
        "answered": make_call(alice, bob, "answered", minute=1, call_type="video", duration=75),
        "missed": make_call(bob, alice, "missed", minute=2),
        "rejected": make_call(carol, alice, "rejected", minute=3),
        "busy": make_call(alice, carol, "busy", minute=4, call_type="video"),
        "not_alices": make_call(bob, carol, "answered", minute=5, duration=9),
        "ringing": make_call(alice, bob, minute=6, state="ringing"),
        "active": make_call(carol, alice, minute=7, state="active"),
    }


@pytest.mark.parametrize(
    ("viewer", "listed"),
    [
        ("alice", ["busy", "rejected", "missed", "answered"]),
        ("bob", ["not_alices", "missed", "answered"]),
        ("carol", ["not_alices", "busy", "rejected"]),
    ],
)
def test_history_lists_your_finished_calls_newest_first(viewer, listed, history, request, client_for):
    user = request.getfixturevalue(viewer)
    body = check(client_for(user).get(URL), 200)
    assert body == {"results": [item(history[name], user) for name in listed], "next_before": None}


def test_history_entry_as_each_side_sees_it(history, alice, bob, client_for):
    [mine] = [e for e in check(client_for(alice).get(URL), 200)["results"] if e["status"] == "answered"]
    [theirs] = [e for e in check(client_for(bob).get(URL), 200)["results"] if e["call_id"] == mine["call_id"]]
    assert (mine["direction"], mine["peer"]["id"], theirs["direction"], theirs["peer"]["id"]) == (
        "outgoing",
        bob.pk,
        "incoming",
        alice.pk,
    )
    assert (mine["call_type"], mine["duration"], mine["started_at"]) == ("video", 75, "2030-01-02T03:05:05Z")


def test_history_pages_by_keyset(alice, bob, client_for):
    calls = [make_call(alice, bob, "missed", minute=m) for m in range(5)]
    client = client_for(alice)
    pages, query = [], "?limit=2"
    while True:
        body = check(client.get(URL + query), 200)
        pages.append([entry["id"] for entry in body["results"]])
        if body["next_before"] is None:
            break
        assert body["next_before"] == pages[-1][-1]
        query = f"?limit=2&before={body['next_before']}"
    newest_first = [c.pk for c in reversed(calls)]
    assert pages == [newest_first[:2], newest_first[2:4], newest_first[4:]]
    assert check(client.get(URL), 200)["results"] == [item(c, alice) for c in reversed(calls)]  # default 50


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=many", "limit"),
        ("before=0", "before"),
        ("before=x", "before"),
    ],
)
def test_bad_paging_is_refused(query, field, alice, client_for):
    assert_error(client_for(alice).get(f"{URL}?{query}"), 400, "VALIDATION_ERROR", field=field)


def test_history_needs_a_signed_in_user(api):
    assert_error(api.get(URL), 401, "AUTHENTICATION_FAILED")


@pytest.fixture
def staff(moderator: User) -> Client:
    client = Client()
    client.force_login(moderator)
    return client


@pytest.mark.parametrize(
    ("search", "listed"),
    [
        ("call_{alice}_{bob}_1", ["answered"]),  # a call_id
        ("carol", ["active", "not_alices", "busy", "rejected"]),  # caller or callee username
        ("bob", ["ringing", "not_alices", "missed", "answered"]),
        ("nobody", []),
    ],
)
def test_admin_finds_calls_by_call_id_and_username(search, listed, history, alice, bob, staff):
    response = staff.get("/admin/calls/call/", {"q": search.format(alice=alice.pk, bob=bob.pk)})
    assert response.status_code == 200
    found = [call.call_id for call in response.context["cl"].result_list]  # newest first
    assert found == [history[name].call_id for name in listed]


def test_admin_shows_a_call_read_only(history, staff):
    call = history["answered"]
    page = staff.get(f"/admin/calls/call/{call.pk}/change/")
    assert page.status_code == 200
    assert call.call_id in page.content.decode()
    assert staff.get("/admin/calls/call/add/").status_code == 403
