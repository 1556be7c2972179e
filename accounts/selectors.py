"""Reads about users shared by several adapters and services."""

from typing import Any

from .models import User


def user_ref(user: User | None) -> dict[str, Any] | None:
    """The short user object the client protocol embeds (sender, typing, presence, friends)."""
    if user is None:
        return None
    return {"id": user.pk, "nickname": user.display_name, "avatar_url": user.avatar_url}
