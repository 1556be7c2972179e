"""Reads about users shared by several adapters and services."""

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from .models import FriendRequest, Friendship, Notification, User


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
