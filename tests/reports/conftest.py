"""One group where something reportable happened, and every kind of actor around it.

Team: alice owns it, carol is its admin, bob (the offender) dave, grace and alice's bot are plain
members; frank was kicked from it, judy is banned from it, heidi is a member whom bob blocked, erin
was never in it, ivan is deactivated (he was a member), `moderator` is staff. bob sent a message;
grace reported it already (an open report others act on)."""

from types import SimpleNamespace

import pytest

from accounts.blocking import block_create
from accounts.services import bot_create, friendship_create, user_set_active
from chats.models import ChatMember, Message, Role
from chats.services import message_send
from groups.services import group_create, member_ban, member_kick
from reports.models import Report
from reports.services import report_create


@pytest.fixture
def world(make_user, moderator) -> SimpleNamespace:
    names = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "ivan", "heidi", "judy")
    w = SimpleNamespace(
        moderator=moderator, **{name: make_user(name, nickname=name.title()) for name in names}
    )
    w.bot, _token = bot_create(actor=w.alice, username="alicebot", nickname="Alice's bot")
    members = [w.bob, w.carol, w.dave, w.frank, w.grace, w.ivan, w.heidi, w.judy]
    for person in members:
        friendship_create(user_a=w.alice, user_b=person)
    w.group = group_create(actor=w.alice, name="Team", member_ids=[u.pk for u in [*members, w.bot]])
    w.gid = w.group.pk
    ChatMember.objects.filter(chat_id=w.gid, user=w.carol).update(role=Role.ADMIN)
    w.message, _ = message_send(actor=w.bob, chat_id=w.gid, content="Buy cheap watches at spam.example")
    w.owner_message, _ = message_send(actor=w.alice, chat_id=w.gid, content="Welcome, everyone")
    member_kick(actor=w.alice, group_id=w.gid, user_id=w.frank.pk)
    member_ban(actor=w.alice, group_id=w.gid, user_id=w.judy.pk)
    block_create(actor=w.bob, user_id=w.heidi.pk)  # the offender blocked heidi, who stays a member
    user_set_active(actor=moderator, user_id=w.ivan.pk, active=False)
    w.ivan.refresh_from_db()
    w.report = report_create(actor=w.grace, kind="message", target_id=w.message.pk, reason="spam")
    w.owner_report = report_create(
        actor=w.grace, kind="message", target_id=w.owner_message.pk, reason="harassment"
    )
    return w


def open_reports() -> list[tuple]:
    return list(Report.objects.order_by("pk").values_list("reporter_id", "kind", "target_id", "status"))


def message_of(w: SimpleNamespace) -> Message:
    return Message.objects.get(pk=w.message.pk)
