"""Fixtures shared by the chats tests."""

import pytest

from accounts.models import User
from accounts.services import friendship_create
from chats.models import Chat


@pytest.fixture
def pair(alice: User, bob: User) -> Chat:
    """Alice and Bob are friends; their private chat."""
    friendship_create(user_a=alice, user_b=bob)
    low, high = sorted((alice.pk, bob.pk))
    return Chat.objects.get(private_key=f"{low}:{high}")
