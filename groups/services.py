"""Every change to groups. (Member management, mutes, notices and join requests arrive with the
groups issue; the foundation needs creation.)"""

from collections.abc import Iterable

from django.db import transaction

from accounts.models import Friendship, User
from chats.models import Chat, ChatMember, Role
from imsuite.errors import permission_denied, validation_error
from imsuite.events import publish

from .models import Group


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise validation_error("name", "empty", "A group needs a name.")
    name = name.strip()
    if len(name) > 64:
        raise validation_error("name", "too_long", "A group name is at most 64 characters.")
    return name


def addable_user_ids(actor: User, user_ids: Iterable[int]) -> set[int]:
    """Of these users, the ones the actor may add to a group: their friends and their own bots."""
    wanted = set(user_ids) - {actor.pk}
    friends = set(
        Friendship.objects.filter(user=actor, friend_id__in=wanted).values_list("friend_id", flat=True)
    )
    bots = set(User.objects.filter(pk__in=wanted, owner=actor, is_bot=True).values_list("pk", flat=True))
    return friends | bots


def group_create(*, actor: User, name: str, avatar_url: str = "", member_ids: Iterable[int] = ()) -> Group:
    """The creator becomes owner; initial members must be the creator's friends or own bots."""
    name = _check_name(name)
    wanted = set(member_ids) - {actor.pk}
    allowed = addable_user_ids(actor, wanted)
    if wanted - allowed:
        raise permission_denied(
            "not_friends",
            "You can only add your friends and your own bots.",
            user_ids=sorted(wanted - allowed),
        )
    with transaction.atomic():
        chat = Chat.objects.create(type=Chat.Type.GROUP)
        group = Group.objects.create(chat=chat, name=name, avatar_url=avatar_url or "", owner=actor)
        ChatMember.objects.bulk_create(
            [ChatMember(chat=chat, user=actor, role=Role.OWNER)]
            + [ChatMember(chat=chat, user_id=uid, role=Role.MEMBER) for uid in sorted(allowed)]
        )
        publish(
            "group.created",
            {actor.pk, *allowed},
            {
                "group_id": chat.pk,
                "name": name,
                "owner_id": actor.pk,
                "member_ids": sorted({actor.pk, *allowed}),
            },
        )
    return group
