"""Two-factor sign-in, account deletion and data export end to end: a real daphne over TCP, real
REST and WebSocket clients, and the real timers process (`manage.py runtimers`) that carries out
deletions and builds exports. Codes are computed with pyotp, as an authenticator app would."""

import asyncio
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.accounts.test_api import PASSWORD
from tests.e2e.conftest import recv_frame, stop_process, ws_open
from tests.e2e.test_http import call
from tests.e2e.test_media import request, upload
from tests.e2e.test_push import start_timers
from tests.e2e.test_ws import http, sign_up, two_friends

WAIT_SECONDS = 20.0  # for the timers process to carry out a deletion or build an export


async def wait_for(check: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (found := await check()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {WAIT_SECONDS} s")
        await asyncio.sleep(0.2)
    return found


async def test_two_factor_sign_in(daphne_url: str) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    enrolment = await http(daphne_url, "POST", "/api/users/me/two-factor/enrol", token=ann.token, expect=200)
    totp = pyotp.TOTP(pyotp.parse_uri(enrolment["otpauth_uri"]).secret)
    # an authenticator a step behind (clock drift): accepted, and leaves the current step unused
    confirmed = await http(
        daphne_url,
        "POST",
        "/api/users/me/two-factor/confirm",
        {"code": totp.at(time.time() - 30)},
        token=ann.token,
        expect=200,
    )
    credentials = {"username": "ann", "password": PASSWORD}
    refused = await http(daphne_url, "POST", "/api/auth/token", credentials, expect=401)
    assert (refused["error_code"], refused["details"]["reason"]) == (
        "AUTHENTICATION_FAILED",
        "two_factor_required",
    )
    challenge = refused["details"]["challenge"]
    code = totp.now()
    tokens = await http(
        daphne_url, "POST", "/api/auth/token/two-factor", {"challenge": challenge, "code": code}, expect=200
    )
    ws = await ws_open(daphne_url, additional_headers={"Authorization": f"Bearer {tokens['access']}"})
    try:
        connect = await recv_frame(ws)
        assert (connect["type"], connect["payload"]["user_id"]) == ("connect", ann.id)
    finally:
        await ws.close()
    replay = await http(
        daphne_url, "POST", "/api/auth/token/two-factor", {"challenge": challenge, "code": code}, expect=400
    )
    assert replay["details"] == {"field": "code", "reason": "code_used"}
    recovery = {"challenge": challenge, "recovery_code": confirmed["recovery_codes"][0]}
    await http(daphne_url, "POST", "/api/auth/token/two-factor", recovery, expect=200)
    await http(daphne_url, "POST", "/api/auth/token/two-factor", recovery, expect=400)


@pytest.fixture
def lifecycle_server(
    daphne_url: str, server_env: dict[str, str], start_daphne: Any, tmp_path: Path
) -> Iterator[str]:
    """A daphne and a timers process sharing one DATA_DIR, deletions due at once (no grace)."""
    env = {**server_env, "DATA_DIR": str(tmp_path / "data"), "ACCOUNT_DELETION_GRACE_DAYS": "0"}
    url = start_daphne(env)
    timers = start_timers(env, tmp_path / "runtimers.log")
    yield url
    stop_process(timers)


async def test_deletion_anonymises_and_keeps_messages_for_others(lifecycle_server: str) -> None:
    url = lifecycle_server
    ann, ben, chat_id = await two_friends(url)
    attachment = await upload(url, ann, "notes.txt", b"ann's notes\n")
    body = {"content": "remember me", "attachment_ids": [attachment["id"]], "client_msg_id": "bye-1"}
    sent = await http(url, "POST", f"/api/chats/{chat_id}/messages", body, token=ann.token, expect=201)
    assert request(url, "GET", attachment["url"]).status == 200

    ws = await ws_open(url, additional_headers={"Authorization": f"Bearer {ann.token}"})
    assert (await recv_frame(ws))["type"] == "connect"
    await http(url, "POST", "/api/users/me/deletion", {"password": PASSWORD}, token=ann.token, expect=202)
    while (frame := await recv_frame(ws))["type"] != "disconnect":
        pass
    assert frame["payload"] == {"status": "disconnected", "reason": "logged_out"}
    await ws.close()
    gone = await http(url, "GET", "/api/users/me", token=ann.token, expect=401)
    assert gone["error_code"] == "AUTHENTICATION_FAILED"

    async def anonymised() -> dict[str, Any] | None:
        """Carried out: its profile is shown again (hidden while the steps run, being inactive)."""
        reply = await asyncio.to_thread(call, url, "GET", f"/api/users/{ann.id}", token=ben.token)
        return reply.json() if reply.status == 200 and reply.json()["nickname"] == "Deleted account" else None

    profile = await wait_for(anonymised, "the deletion")
    assert (profile["username"], profile["avatar_url"], profile["bio"]) == (f"deleted-{ann.id}", "", "")
    history = await http(url, "GET", f"/api/chats/{chat_id}/messages", token=ben.token, expect=200)
    kept = next(m for m in history["results"] if m["id"] == sent["id"])
    assert (kept["sender_id"], kept["content"], kept["attachments"]) == (ann.id, "remember me", [])
    assert request(url, "GET", attachment["url"]).status == 404
    assert await http(url, "GET", "/api/friends", token=ben.token, expect=200) == []
    chats = await http(url, "GET", "/api/chats", token=ben.token, expect=200)
    assert [c["title"] for c in chats if c["id"] == chat_id] == ["Deleted account"]
    signin = await http(url, "POST", "/api/auth/token", {"username": "ann", "password": PASSWORD}, expect=401)
    assert signin["error_code"] == "AUTHENTICATION_FAILED"


async def test_export_is_built_and_downloaded_by_its_owner_only(lifecycle_server: str) -> None:
    url = lifecycle_server
    ann, ben, chat_id = await two_friends(url)
    attachment = await upload(url, ann, "notes.txt", b"ann's notes\n")
    body = {"content": "in the archive", "attachment_ids": [attachment["id"]], "client_msg_id": "x-1"}
    await http(url, "POST", f"/api/chats/{chat_id}/messages", body, token=ann.token, expect=201)
    queued = await http(url, "POST", "/api/users/me/exports", token=ann.token, expect=202)

    async def ready() -> dict[str, Any] | None:
        export = await http(url, "GET", f"/api/users/me/exports/{queued['id']}", token=ann.token, expect=200)
        return export if export["status"] == "ready" else None

    export = await wait_for(ready, "the export")
    assert (
        request(url, "GET", export["download_url"], headers={"Authorization": f"Bearer {ben.token}"}).status
        == 404
    )
    assert request(url, "GET", export["download_url"]).status == 401
    reply = request(url, "GET", export["download_url"], headers={"Authorization": f"Bearer {ann.token}"})
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(reply.body))
    assert json.loads(archive.read("profile.json"))["username"] == "ann"
    assert [f["username"] for f in json.loads(archive.read("friends.json"))] == ["ben"]
    assert [m["content"] for m in json.loads(archive.read(f"messages/{chat_id}.json"))] == ["in the archive"]
    assert archive.read(f"files/{attachment['id']}-notes.txt") == b"ann's notes\n"
