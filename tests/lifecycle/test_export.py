"""Data export: asked over REST, built by the timers process, downloaded (a zip of profile,
messages per chat, files, friends, groups and sessions) by its owner only, until it expires."""

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.blocking import block_create
from accounts.models import User
from accounts.services import bot_create, friendship_create
from accounts.sessions import start_session
from chats.models import Chat
from chats.services import message_send
from groups.services import group_create
from imsuite.management.commands.runtimers import run_due
from lifecycle.export import exports_build
from lifecycle.models import DataExport
from media.storage import media_storage
from reports.services import report_create
from sso.models import ExternalIdentity
from tests.accounts.test_api import assert_error, check
from tests.db_state import assert_unchanged, whole_database

pytestmark = pytest.mark.django_db
URL = "/api/users/me/exports"


def download(client: Any, export_id: int) -> zipfile.ZipFile:
    response = client.get(f"{URL}/{export_id}/download")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_an_export_holds_the_persons_data(
    alice: User, bob: User, carol: User, upload: Any, client_for: Any
) -> None:
    friendship_create(user_a=alice, user_b=bob)
    private = Chat.objects.get(type=Chat.Type.PRIVATE, members__user=bob)
    note = upload(alice, body=b"my notes\n")
    mine, _ = message_send(actor=alice, chat_id=private.pk, content="hello", attachment_ids=[note.pk])
    message_send(actor=bob, chat_id=private.pk, content="not alice's")
    team = group_create(actor=alice, name="Team", member_ids=[bob.pk])
    block_create(actor=alice, user_id=carol.pk)
    report_create(actor=alice, kind="group", target_id=team.pk, reason="spam", comment="test")
    ExternalIdentity.objects.create(user=alice, issuer="https://id.example", subject="alice-at-id")
    start_session(alice, user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", address="192.0.2.7")
    client = client_for(alice)
    queued = check(client.post(URL), 202)
    assert (queued["status"], queued["download_url"]) == ("pending", None)
    assert_error(client.post(URL), 409, "CONFLICT", reason="export_pending")
    assert_error(client.get(f"{URL}/{queued['id']}/download"), 409, "CONFLICT", reason="export_not_ready")

    run_due()  # the timers process builds it
    ready = check(client.get(f"{URL}/{queued['id']}"), 200)
    assert ready["status"] == "ready" and ready["download_url"] == f"{URL}/{queued['id']}/download"
    archive = download(client, queued["id"])
    assert sorted(archive.namelist()) == sorted(
        [
            "profile.json",
            "friends.json",
            "blocked.json",
            "groups.json",
            "sessions.json",
            "reports.json",
            f"messages/{private.pk}.json",
            "files.json",
            f"files/{note.pk}-notes.txt",
        ]
    )
    profile = json.loads(archive.read("profile.json"))
    assert profile["username"] == "alice"
    assert [(i["issuer"], i["subject"]) for i in profile["single_sign_on"]] == [
        ("https://id.example", "alice-at-id")
    ]
    assert [b["id"] for b in json.loads(archive.read("blocked.json"))] == [carol.pk]
    assert [
        (r["kind"], r["target_id"], r["reason"], r["status"])
        for r in json.loads(archive.read("reports.json"))
    ] == [("group", team.pk, "spam", "open")]
    devices = [(d["browser"], d["system"], d["address"]) for d in json.loads(archive.read("sessions.json"))]
    assert ("Firefox", "Linux", "192.0.2.7") in devices
    assert [f["id"] for f in json.loads(archive.read("friends.json"))] == [bob.pk]
    assert json.loads(archive.read("groups.json"))[0]["name"] == "Team"
    messages = json.loads(archive.read(f"messages/{private.pk}.json"))
    assert [(m["id"], m["content"], m["attachments"]) for m in messages] == [(mine.pk, "hello", [note.pk])]
    assert archive.read(f"files/{note.pk}-notes.txt") == b"my notes\n"


def test_files_past_the_bound_are_listed_not_included(
    alice: User, upload: Any, client_for: Any, settings: Any
) -> None:
    settings.IMSUITE = {**settings.IMSUITE, "DATA_EXPORT_MAX_BYTES": 10}
    big = upload(alice, body=b"more than ten bytes\n")
    client = client_for(alice)
    export_id = check(client.post(URL), 202)["id"]
    assert exports_build() == 1
    assert check(client.get(f"{URL}/{export_id}"), 200)["files_left_out"] == 1
    archive = download(client, export_id)
    assert json.loads(archive.read("files.json")) == [
        {
            "id": big.pk,
            "name": "notes.txt",
            "size": big.size,
            "mime": "text/plain",
            "left_out": "DATA_EXPORT_MAX_BYTES",
        }
    ]


def test_an_export_expires_and_its_file_goes(alice: User, client_for: Any) -> None:
    client = client_for(alice)
    export_id = check(client.post(URL), 202)["id"]
    exports_build()
    name = DataExport.objects.get(pk=export_id).file
    assert media_storage().exists(name)
    DataExport.objects.filter(pk=export_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(client.get(f"{URL}/{export_id}/download"), 409, "CONFLICT", reason="export_expired")
    exports_build()
    assert DataExport.objects.get(pk=export_id).status == "expired" and not media_storage().exists(name)
    assert_error(client.get(f"{URL}/{export_id}/download"), 409, "CONFLICT", reason="export_expired")


@pytest.mark.parametrize(
    ("actor", "operation", "status", "code", "reason"),
    [
        ("anonymous", "request", 401, "AUTHENTICATION_FAILED", None),
        ("anonymous", "list", 401, "AUTHENTICATION_FAILED", None),
        ("anonymous", "download", 401, "AUTHENTICATION_FAILED", None),
        ("banned", "request", 401, "AUTHENTICATION_FAILED", None),
        ("banned", "download", 401, "AUTHENTICATION_FAILED", None),
        ("bot", "request", 403, "PERMISSION_DENIED", "bot"),
        ("bot", "download", 404, "NOT_FOUND", None),
        ("stranger", "detail", 404, "NOT_FOUND", None),
        ("stranger", "download", 404, "NOT_FOUND", None),
        ("staff", "detail", 404, "NOT_FOUND", None),
        ("staff", "download", 404, "NOT_FOUND", None),
    ],
)
def test_authorization_matrix(
    actor: str,
    operation: str,
    status: int,
    code: str,
    reason: str | None,
    alice: User,
    carol: User,
    moderator: User,
    api: Any,
    client_for: Any,
) -> None:
    bot, _ = bot_create(actor=alice, username="alicebot")
    export_id = check(client_for(alice).post(URL), 202)["id"]
    exports_build()
    people = {"bot": bot, "stranger": carol, "staff": moderator, "banned": alice}
    client = api if actor == "anonymous" else client_for(people[actor])
    if actor == "banned":  # the export's own person, deactivated by a moderator since
        User.objects.filter(pk=alice.pk).update(is_active=False)
    before = whole_database()
    response = {
        "request": lambda: client.post(URL),
        "list": lambda: client.get(URL),
        "detail": lambda: client.get(f"{URL}/{export_id}"),
        "download": lambda: client.get(f"{URL}/{export_id}/download"),
    }[operation]()
    assert_error(response, status, code, **({"reason": reason} if reason else {}))
    assert_unchanged(before)
    assert check(client_for(carol).get(URL), 200) == []  # nobody sees another's exports in their list
    if actor != "banned":
        assert [e["id"] for e in check(client_for(alice).get(URL), 200)] == [export_id]
