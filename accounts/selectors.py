"""Reads about users shared by several adapters and services."""

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from .models import Block, FriendRequest, Friendship, Notification, User


def user_ref(user: User | None) -> dict[str, Any] | None:
    """The short user object the client protocol embeds (sender, typing, presence, friends)."""
    if user is None:
        return None
    return {"id": user.pk, "nickname": user.display_name, "avatar_url": user.avatar_url}


def user_search(term: str, limit: int) -> list[User]:
    """Active users whose username or nickname contains the term, by username."""
    matching = User.objects.filter(Q(username__icontains=term) | Q(nickname__icontains=term), is_active=True)
    return list(matching.order_by("username")[:limit])


def usernames(user_ids: Iterable[int]) -> dict[int, str]:
    """{id: username} of those of these users who are active."""
    user_ids = set(user_ids)
    if not user_ids:
        return {}
    return dict(User.objects.filter(pk__in=user_ids, is_active=True).values_list("pk", "username"))


def bots_of(owner: User) -> QuerySet[User]:
    return User.objects.filter(owner=owner, is_bot=True).order_by("pk")


def friends_of(user: User, *order: str) -> list[User]:
    """The user's friends, in the given order (by id when none is given)."""
    return list(User.objects.filter(friendships__friend=user).order_by(*(order or ("pk",))))


def active_friend(user: User, friend_id: int) -> User | None:
    """The friend with this id if they are a friend of the user and active, else None."""
    is_friend = Exists(Friendship.objects.filter(user=user, friend=OuterRef("pk")))
    return User.objects.filter(is_friend, pk=friend_id, is_active=True).first()


def pending_friend_requests(user: User) -> QuerySet[FriendRequest]:
    """Pending requests the user sent or received, newest first."""
    return (
        FriendRequest.objects.filter(Q(from_user=user) | Q(to_user=user), status="pending")
        .select_related("from_user", "to_user")
        .order_by("-created_at")
    )


def pending_friend_request_id(from_user_id: int, to_user: User) -> int | None:
    pending = FriendRequest.objects.filter(from_user_id=from_user_id, to_user=to_user, status="pending")
    return pending.values_list("pk", flat=True).first()


def recipient_count(note: Notification) -> int:
    """How many users a notification was addressed to (0: everyone)."""
    return note.recipients.count()


# ---- blocking (accounts.blocking) ----------------------------------------------------------------


def blocks_of(user: User) -> QuerySet[Block]:
    """The people the user blocked, newest first, with their profiles."""
    return Block.objects.filter(blocker=user).select_related("blocked").order_by("-created_at", "-pk")


def is_blocked_between(user_a_id: int, user_b_id: int) -> bool:
    """Whether either of two people blocked the other: one probe of the unique (blocker, blocked)
    index per direction, in one query."""
    return Block.objects.filter(
        Q(blocker_id=user_a_id, blocked_id=user_b_id) | Q(blocker_id=user_b_id, blocked_id=user_a_id)
    ).exists()


def blocked_ids(user_id: int) -> set[int]:
    """Whom the user blocked: they hear none of the user's typing or presence."""
    return set(Block.objects.filter(blocker_id=user_id).values_list("blocked_id", flat=True))


def blockers_among(user_id: int, user_ids: Iterable[int]) -> set[int]:
    """Those of these users who blocked this one: their presence is hidden from it."""
    user_ids = set(user_ids)
    if not user_ids:
        return set()
    rows = Block.objects.filter(blocked_id=user_id, blocker_id__in=user_ids)
    return set(rows.values_list("blocker_id", flat=True))


def blocked_pairs(blocker_ids: Iterable[int], blocked_ids: Iterable[int]) -> set[tuple[int, int]]:
    """The (blocker, blocked) pairs among these people: whose messages notify whom not."""
    blocker_ids, blocked_ids = set(blocker_ids), set(blocked_ids)
    if not blocker_ids or not blocked_ids:
        return set()
    rows = Block.objects.filter(blocker_id__in=blocker_ids, blocked_id__in=blocked_ids)
    return set(rows.values_list("blocker_id", "blocked_id"))
