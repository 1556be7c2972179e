"""The resumable bot event stream (bots.stream, issue 20 point 6): cursors on every event, `?since=`
replay in order and once before live events, the missed-events notice past the retention window,
events waiting for a reverse endpoint, and runtimers' retention round."""

import json
from datetime import timedelta

from django.utils import timezone

from bots.models import BotEvent, BotStreamMark, ReverseEndpoint
from bots.stream import marks_round
from chats.selectors import current_seq
from groups.services import member_add

from .helpers import befriend, call, failed, make_group, person_client, send


async def frame_of(socket) -> dict:
    return json.loads(await socket.communicator.receive_from(5))


def group_increase(user, group, operator) -> dict:
    return {"event": "on_group_increase", "userId": user.pk, "groupId": group.pk, "operatorId": operator.pk}


def message_of(message, group, who) -> dict:
    return {
        "event": "on_message",
        "type": 1,
        "messageId": message.pk,
        "message": message.content,
        "userId": who.pk,
        "sender": {"nickname": who.nickname, "sex": who.sex, "age": who.age or 0} | who.standing,
        "groupId": group.pk,
        "attachments": [],
        "mentions": [],
        "atMe": False,
    }


def without_time(frame: dict) -> dict:
    frame.pop("time")
    return frame


async def test_a_bot_resumes_after_its_cursor_in_order_and_once(sockets, alice, bob, carol, bot, bot_token):
    team = await call(make_group, alice, bob, bot)
    alice.standing = {"role": "owner", "level": "0", "title": alice.nickname}
    socket = await sockets.bot(bot_token)
    first = await call(send, alice, team.pk, "one")
    seen = without_time(await frame_of(socket))
    assert seen == message_of(first, team, alice) | {"cursor": first.seq}
    await socket.communicator.disconnect()

    # While it is away: a message, a member added (kept in BotEvent), another message.
    second = await call(send, alice, team.pk, "two")
    await call(befriend, alice, carol)
    await call(member_add, actor=alice, group_id=team.pk, user_id=carol.pk)
    kept = await call(lambda: BotEvent.objects.filter(bot=bot, name="group.member_added").latest("seq"))
    third = await call(send, alice, team.pk, "three")
    assert first.seq < second.seq < kept.seq < third.seq

    socket, accepted = await sockets.open_bot(f"?token={bot_token}&since={first.seq}")
    assert accepted
    replayed = [without_time(await frame_of(socket)) for _ in range(3)]
    assert replayed == [
        message_of(second, team, alice) | {"cursor": second.seq},
        group_increase(carol, team, alice) | {"cursor": kept.seq},
        message_of(third, team, alice) | {"cursor": third.seq},
    ]
    await socket.nothing()  # each once
    fourth = await call(send, alice, team.pk, "four")  # then live, as before
    assert without_time(await frame_of(socket)) == message_of(fourth, team, alice) | {"cursor": fourth.seq}


async def test_a_cursor_past_the_retention_window_is_told(sockets, alice, bob, bot, bot_token, settings):
    team = await call(make_group, alice, bob, bot)
    alice.standing = {"role": "owner", "level": "0", "title": alice.nickname}
    old = await call(send, alice, team.pk, "gone")
    await call(send, alice, team.pk, "also gone")
    floor = await call(current_seq)
    day = settings.IMSUITE["BOT_EVENT_RETENTION_SECONDS"]
    await call(BotStreamMark.objects.create, at=timezone.now() - timedelta(seconds=day + 5), seq=floor)
    kept = await call(send, alice, team.pk, "kept")

    socket, accepted = await sockets.open_bot(f"?token={bot_token}&since={old.seq}")
    assert accepted
    assert without_time(await frame_of(socket)) == {
        "event": "on_events_missed",
        "since": old.seq,
        "oldest": floor,
    }
    assert without_time(await frame_of(socket)) == message_of(kept, team, alice) | {"cursor": kept.seq}
    await socket.nothing()


async def test_onebot_is_told_with_a_notice(sockets, alice, bob, bot, bot_token):
    await call(make_group, alice, bob, bot)
    now = await call(current_seq)
    socket, accepted = await sockets.open_bot(f"?token={bot_token}&dialect=onebot11&since={now + 1000}")
    assert accepted
    assert (await frame_of(socket))["meta_event_type"] == "lifecycle"
    assert without_time(await frame_of(socket)) == {
        "self_id": bot.pk,
        "post_type": "notice",
        "notice_type": "events_missed",
        "since": now + 1000,
        "oldest": 0,
    }


async def test_a_cursor_ahead_of_the_stream_is_told_and_goes_live(sockets, alice, bob, bot, bot_token):
    team = await call(make_group, alice, bob, bot)
    alice.standing = {"role": "owner", "level": "0", "title": alice.nickname}
    now = await call(current_seq)
    socket, accepted = await sockets.open_bot(f"?token={bot_token}&since={now + 1000}")
    assert accepted
    assert without_time(await frame_of(socket)) == {
        "event": "on_events_missed",
        "since": now + 1000,
        "oldest": 0,
    }
    live = await call(send, alice, team.pk, "live")
    assert without_time(await frame_of(socket)) == message_of(live, team, alice) | {"cursor": live.seq}


async def test_a_bad_since_is_refused_with_a_reason(sockets, bot_token):
    socket, accepted = await sockets.open_bot(f"?token={bot_token}&since=-1")
    assert accepted
    assert await socket.reply() == failed(1400, mentions="since: invalid_cursor")
    closed = await socket.communicator.receive_output(5)
    assert closed == {"type": "websocket.close", "code": 1008, "reason": "invalid_cursor"}


def test_events_waiting_for_an_endpoint(alice, bob, bot):
    team = make_group(alice, bob, bot)
    endpoint = ReverseEndpoint.objects.create(bot=bot, url="ws://127.0.0.1:9/bot")
    client = person_client(alice)
    assert (
        client.get(f"/api/bots/{bot.pk}/reverse-endpoints").json()[0]["events_waiting"] == 0
    )  # never connected
    endpoint.last_cursor = current_seq()
    endpoint.save()
    send(alice, team.pk, "one")
    send(bob, team.pk, "two")
    befriend(alice, bob)
    assert client.get(f"/api/bots/{bot.pk}/reverse-endpoints").json()[0]["events_waiting"] == 2
    BotEvent.objects.create(bot=bot, seq=current_seq() + 1, name="friend.added", data={"user_id": alice.pk})
    assert client.get(f"/api/bots/{bot.pk}/reverse-endpoints").json()[0]["events_waiting"] == 3


def test_the_retention_round_drops_what_is_past_the_window(alice, bot, settings):
    for seq in (1, 2, 3):
        BotEvent.objects.create(bot=bot, seq=seq, name="friend.added", data={})
    now = timezone.now()
    day = timedelta(seconds=settings.IMSUITE["BOT_EVENT_RETENTION_SECONDS"])
    assert marks_round(now - 2 * day) == 0  # nothing is old enough yet: a mark of the counter then
    BotStreamMark.objects.create(at=now - day, seq=2)  # the counter a day ago
    assert marks_round(now) == 2  # seqs 1 and 2 are past the window; the older mark goes
    assert list(BotEvent.objects.values_list("seq", flat=True)) == [3]
    assert list(BotStreamMark.objects.order_by("at").values_list("seq", flat=True)) == [2, current_seq()]
