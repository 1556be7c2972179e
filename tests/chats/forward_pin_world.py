"""The shared world of the forwarding and pin tests: one group with every kind of actor, and a
private chat whose peer blocked the member."""

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from accounts.blocking import block_create
from accounts.models import User
from accounts.services import bot_create, friendship_create
from chats.models import ChatMember
from chats.services import message_send, private_chat_ensure
from groups import services as groups
from groups.services import group_create

# Who acts, and how: a person over REST (anonymous without a token); the bot through the service
# (bots have no REST token; the bot protocol's actions call the same service).
ACTORS = (
    "anonymous",
    "outsider",
    "member",
    "admin",
    "owner",
    "moderator",
    "bot",
    "banned",
    "muted",
    "blocked",
)


def build_world(make_user: Callable[..., User]) -> SimpleNamespace:
    """Group "Team": owner; admin (role admin); member; muted (muted for an hour); bot (the owner's,
    a plain member). banned was a member, then banned. outsider is in nothing. moderator is site staff
    in nothing. "blocked" is the member acting in the private chat with pal, who blocked them.
    Message `hello` by the member in Team; `pals` is the private chat of member and pal."""
    names = ("owner", "admin", "member", "muted", "banned", "outsider", "pal", "moderator")
    users = {name: make_user(name, nickname=name.title()) for name in names}
    User.objects.filter(pk=users["moderator"].pk).update(is_staff=True, is_superuser=True)
    users["moderator"].refresh_from_db()
    owner = users["owner"]
    users["bot"], _token = bot_create(actor=owner, username="bot", nickname="Bot")
    for name in ("admin", "member", "muted", "banned"):
        friendship_create(user_a=owner, user_b=users[name])
    friendship_create(user_a=users["member"], user_b=users["pal"])
    members = [users[n].pk for n in ("admin", "member", "muted", "banned", "bot")]
    group = group_create(actor=owner, name="Team", member_ids=members)
    groups.member_update(actor=owner, group_id=group.pk, user_id=users["admin"].pk, role="admin")
    groups.group_ban(actor=owner, group_id=group.pk, user_id=users["muted"].pk, duration=3600)
    groups.member_ban(actor=owner, group_id=group.pk, user_id=users["banned"].pk)
    pals = private_chat_ensure(user_a=users["member"], user_b=users["pal"])
    hello, _ = message_send(actor=users["member"], chat_id=group.pk, content="hello team")
    to_pal, _ = message_send(actor=users["member"], chat_id=pals.pk, content="hi pal")
    block_create(actor=users["pal"], user_id=users["member"].pk)
    assert not ChatMember.objects.filter(chat_id=group.pk, user=users["banned"]).exists()
    return SimpleNamespace(**users, group=group, gid=group.pk, pals=pals, hello=hello, to_pal=to_pal)


def client_of(w: SimpleNamespace, who: str, api: Any, client_for: Callable[[User], Any]) -> Any:
    """The actor's API client, made before a snapshot (a token is a row); None for the bot."""
    if who == "bot":
        return None
    return api if who == "anonymous" else client_for(getattr(w, "member" if who == "blocked" else who))
