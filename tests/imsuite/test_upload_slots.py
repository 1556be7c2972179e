"""imsuite.upload_slots: at most UPLOAD_CONCURRENCY uploads of a process are worked on at once; the
others wait on the event loop, in order; other requests never wait."""

import asyncio
from typing import Any

import pytest

from imsuite.upload_slots import UploadSlots


class Held:
    """An application that holds each request until told to let it go."""

    def __init__(self) -> None:
        self.inside: list[str] = []
        self.entered: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        name = scope["name"]
        self.inside.append(name)
        self.entered.append(name)
        await self.release.setdefault(name, asyncio.Event()).wait()
        self.inside.remove(name)

    def let_go(self, name: str) -> None:
        self.release.setdefault(name, asyncio.Event()).set()


async def until(condition: Any) -> None:
    for _ in range(100):  # bounded: a few turns of the loop are enough
        if condition():
            return
        await asyncio.sleep(0)
    pytest.fail("the condition never held")


def request(name: str, path: str, method: str = "POST") -> dict:
    return {"type": "http", "method": method, "path": path, "name": name}


@pytest.fixture
def two_at_once(settings: Any) -> None:
    settings.IMSUITE = {**settings.IMSUITE, "UPLOAD_CONCURRENCY": 2}


async def test_uploads_beyond_the_slots_wait_their_turn_and_other_requests_never_do(two_at_once):
    held = Held()
    gate = UploadSlots(held)
    uploads = [request(f"up{n}", "/api/uploads") for n in range(3)]
    others = [
        request("avatar-get", "/api/users/me/avatar", "GET"),
        request("history", "/api/chats/1/messages"),
    ]
    tasks = [asyncio.create_task(gate(scope, None, None)) for scope in [*uploads, *others]]
    await until(lambda: len(held.inside) == 4)
    assert sorted(held.inside) == ["avatar-get", "history", "up0", "up1"]  # up2 waits for a slot
    held.let_go("up1")
    await until(lambda: "up2" in held.inside)
    assert sorted(held.inside) == ["avatar-get", "history", "up0", "up2"]
    for name in ("up0", "up2", "avatar-get", "history"):
        held.let_go(name)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert held.inside == []


async def test_an_avatar_upload_takes_a_slot_too(two_at_once):
    held = Held()
    gate = UploadSlots(held)
    scopes = [
        request("user", "/api/users/me/avatar"),
        request("group", "/api/groups/7/avatar"),
        request("file", "/api/uploads"),
    ]
    tasks = [asyncio.create_task(gate(scope, None, None)) for scope in scopes]
    await until(lambda: len(held.inside) == 2)
    assert held.entered == ["user", "group"]
    held.let_go("user")
    held.let_go("group")
    held.let_go("file")
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert held.entered == ["user", "group", "file"]
