"""Link previews through the doors: the live WebSocket frame (with its seq), the REST history's
link_previews, and clearing over REST with its authorization matrix (the whole database unchanged
by every refusal)."""

from typing import Any

import pytest

from accounts.blocking import block_create
from accounts.models import User
from accounts.services import bot_create, friendship_create
from chats import services as chat_services
from chats.models import Message
from groups.services import group_create, member_ban
from imsuite.errors import DomainError
from previews.models import LinkPreview
from previews.services import preview_clear, previews_round
from tests.accounts.test_api import assert_error, check
from tests.chats.test_ws import fresh, ws  # noqa: F401  (fixtures)
from tests.chats.ws_helpers import call
from tests.db_state import assert_unchanged, whole_database

from .pages_server import page_server

PLAIN = {
    "title": "Only a title",
    "description": "And a meta description.",
    "site_name": "",
    "image_url": None,
}


def _send_and_preview(actor: User, chat_id: int, content: str) -> Message:
    message, _ = chat_services.message_send(actor=actor, chat_id=chat_id, content=content)
    previews_round()
    return Message.objects.get(pk=message.pk)


@pytest.mark.django_db(transaction=True)
async def test_the_preview_arrives_live_as_a_seq_frame_after_the_message(ws, alice, bob, settings):  # noqa: F811
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    chat = await call(chat_services.private_chat_ensure, user_a=alice, user_b=bob)
    a, b = await ws.connect(alice), await ws.connect(bob)
    with page_server() as pages:
        url = f"{pages.base}/plain"
        ack = await a.request("message.send", {"chat_id": chat.pk, "content": f"read {url}"})
        assert "link_previews" not in ack["payload"]["message"]
        assert (await b.frame())["type"] == "message.new"
        await call(previews_round)
    row = await call(Message.objects.get, pk=ack["payload"]["message"]["id"])
    expected = {
        "type": "message.preview",
        "seq": row.seq,
        "payload": {"chat_id": chat.pk, "message_id": row.pk, "previews": [{"url": url, **PLAIN}]},
    }
    assert row.seq > ack["seq"]
    assert await a.frame() == expected and await b.frame() == expected


@pytest.mark.django_db
def test_history_carries_link_previews_only_where_there_are_some(
    alice, bob, client_for, settings, media_root
):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    chat = chat_services.private_chat_ensure(user_a=alice, user_b=bob)
    with page_server() as pages:
        linked = _send_and_preview(alice, chat.pk, f"{pages.base}/plain")
    plain, _ = chat_services.message_send(actor=bob, chat_id=chat.pk, content="plain words")
    body = check(client_for(bob).get(f"/api/chats/{chat.pk}/messages"), 200)
    by_id = {item["id"]: item for item in body["results"]}
    assert by_id[linked.pk]["link_previews"] == [{"url": f"{pages.base}/plain", **PLAIN}]
    assert "link_previews" not in by_id[plain.pk]


# ---- clearing: who may --------------------------------------------------------------------------

# A number is the REST status; a word is the details.reason of a 403 PERMISSION_DENIED.
MATRIX = """
actor       answer
anonymous   401
sender      not_moderator
peer        not_moderator
group_admin not_moderator
stranger    not_moderator
blocked     not_moderator
banned      not_moderator
bot         not_moderator
moderator   204
"""


@pytest.fixture
def cleared_world(make_user, moderator, settings, media_root) -> dict[str, Any]:
    """A group whose message shows a preview; the sender, a member, an admin, a stranger, a person
    the sender blocked (a member), a person banned from the group, the owner's bot (a member)."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    people = {
        name: make_user(name) for name in ("sender", "peer", "group_admin", "stranger", "blocked", "banned")
    }
    owner = people["group_admin"]
    for name in ("sender", "peer", "blocked", "banned"):
        friendship_create(user_a=owner, user_b=people[name])
    bot, _ = bot_create(actor=owner, username="helper", nickname="Helper")
    members = [people[n].pk for n in ("sender", "peer", "blocked", "banned")] + [bot.pk]
    group = group_create(actor=owner, name="Team", member_ids=members)
    member_ban(actor=owner, group_id=group.pk, user_id=people["banned"].pk)
    block_create(actor=people["sender"], user_id=people["blocked"].pk)
    with page_server() as pages:
        message = _send_and_preview(people["sender"], group.pk, f"{pages.base}/plain")
    assert message.link_previews
    return {**people, "bot": bot, "moderator": moderator, "message": message}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("actor", "answer"), [line.split() for line in MATRIX.strip().splitlines()[1:]], ids=lambda v: str(v)
)
def test_who_may_clear_a_preview(cleared_world, api, client_for, actor, answer):
    preview_id = LinkPreview.objects.get().pk
    url = f"/api/link-previews/{preview_id}"
    person = cleared_world.get(actor)
    client = client_for(person) if person is not None and not person.is_bot else api
    before = whole_database()  # the client's token is made first: it is no part of the answer
    if actor == "anonymous":
        assert_error(api.delete(url), 401, "AUTHENTICATION_FAILED")
    elif actor == "bot":  # bots have no REST door here; the service refuses them all the same
        with pytest.raises(DomainError) as refused:
            preview_clear(actor=cleared_world["bot"], preview_id=preview_id)
        assert (refused.value.code, refused.value.details) == ("PERMISSION_DENIED", {"reason": answer})
    elif answer.isdigit():
        check(client.delete(url), int(answer))
        message = Message.objects.get(pk=cleared_world["message"].pk)
        assert message.link_previews is None and LinkPreview.objects.get().status == "cleared"
        assert_error(client.delete("/api/link-previews/999999"), 404, "NOT_FOUND")
        return
    else:
        assert_error(client.delete(url), 403, "PERMISSION_DENIED", reason=answer)
    assert_unchanged(before)


@pytest.mark.django_db
def test_the_thumbnail_is_served_from_our_origin(alice, bob, settings, media_root, client):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    chat = chat_services.private_chat_ensure(user_a=alice, user_b=bob)
    with page_server() as pages:
        message = _send_and_preview(alice, chat.pk, f"{pages.base}/article")
    [shown] = message.link_previews
    answer = client.get(shown["image_url"])
    assert (answer.status_code, answer["Content-Type"]) == (200, "image/webp")
    assert answer["Cache-Control"] == "public, max-age=31536000, immutable"
    assert b"".join(answer.streaming_content).startswith(b"RIFF")
    assert_error(client.get("/media/previews/..%2Fsecret.webp"), 404, "NOT_FOUND")
    assert_error(client.get("/media/previews/" + "0" * 32 + ".webp"), 404, "NOT_FOUND")
