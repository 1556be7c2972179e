"""imsuite.rendering: a compiled output schema renders exactly what the DRF serializer renders."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from rest_framework import serializers

from chats.serializers import ChatOut, HistoryPage
from imsuite.rendering import renderer

pytestmark = pytest.mark.internals  # library internals: make upgrade-check runs these

AT = datetime(2026, 11, 22, 3, 4, 5, 678901, tzinfo=UTC)
EAST = timezone(timedelta(hours=8))


def message(**changes: Any) -> dict[str, Any]:
    return {
        "id": 41,
        "chat_id": 7,
        "sender_id": 3,
        "content": "你好 \U0001f600",
        "message_type": "text",
        "reply_to_id": None,
        "client_msg_id": None,
        "created_at": AT,
        "is_edited": False,
        "updated_at": None,
        "is_deleted": False,
        "deleted_by": None,
        "deleted_at": None,
        "attachments": [],
        "mentions": [],
        "extra": 1,  # keys the schema does not name are left out, as DRF leaves them
        **changes,
    }


MESSAGES = [
    message(),
    message(id=42, client_msg_id="c-1", reply_to_id=41, is_edited=True, updated_at=AT.astimezone(EAST)),
    message(id=43, content="", is_deleted=True, deleted_by=3, deleted_at=AT + timedelta(seconds=1)),
    message(id=44, sender_id=None, message_type="system", created_at=datetime(2026, 1, 1, tzinfo=EAST)),
    message(id=45, created_at="2026-11-22T03:04:05Z"),  # a string passes through, as in DRF
    message(id=47, mentions=["all", 3, 9]),
    message(
        id=46,
        message_type="voice",
        attachments=[
            {
                "id": 9,
                "kind": "voice",
                "name": "voice.webm",
                "size": 5120,
                "mime": "audio/webm",
                "width": None,
                "height": None,
                "duration": 2.5,
                "waveform": [0, 128, 255],
                "thumbnail": None,
                "url": "/media/9/file?exp=1&sig=x",
                "has_thumbnail": False,  # not a field of the schema: left out
            }
        ],
    ),
]


@pytest.mark.parametrize("next_before", [None, 41])
def test_a_history_page_renders_as_the_serializer_does(next_before: int | None) -> None:
    page = {"results": MESSAGES, "next_before": next_before}
    assert renderer(HistoryPage)(page) == HistoryPage(page).data
    assert renderer(HistoryPage)(page)["results"][1]["updated_at"] == "2026-11-22T03:04:05.678901Z"


@pytest.mark.parametrize(
    "peer, last_message",
    [({"id": 3, "nickname": "Bob", "avatar_url": "", "extra": 1}, MESSAGES[1]), (None, None)],
)
def test_a_chat_with_nested_parts_renders_as_the_serializer_does(peer: Any, last_message: Any) -> None:
    chat = {
        "id": 7,
        "type": "private" if peer else "group",
        "title": None if peer else "Team",
        "member_count": 2,
        "unread_count": 0,
        "unread_mention_count": 2,
        "last_read_message_id": 0,
        "last_message": last_message,
        "last_activity_at": AT,
        "peer": peer,
        "peer_last_read_message_id": 40 if peer else None,
        "last_delivered_message_id": 3,
        "peer_last_delivered_message_id": 41 if peer else None,
        "notify": "muted" if peer else "all",
        "notify_until": AT if peer else None,
    }
    assert renderer(ChatOut)(chat) == ChatOut(chat).data


def test_a_schema_reading_another_source_is_refused() -> None:
    class Dotted(serializers.Serializer):
        owner_name = serializers.CharField(source="owner.name")

    with pytest.raises(TypeError, match=r"Dotted\.owner_name: source 'owner\.name'"):
        renderer(Dotted)


def test_a_missing_key_is_treated_as_drf_treats_it() -> None:
    class Partial(serializers.Serializer):
        required = serializers.IntegerField()
        nullable = serializers.IntegerField(allow_null=True)
        optional = serializers.IntegerField(required=False)
        defaulted = serializers.IntegerField(default=5)

    assert (
        renderer(Partial)({"required": 1})
        == Partial({"required": 1}).data
        == {
            "required": 1,
            "nullable": None,
            "defaulted": 5,
        }
    )
    with pytest.raises(KeyError, match="required"):
        renderer(Partial)({})
    without_client_msg_id = message()
    del without_client_msg_id["client_msg_id"]  # another's message, as the chat list carries it
    page = {"results": [without_client_msg_id], "next_before": None}
    assert renderer(HistoryPage)(page) == HistoryPage(page).data
