"""Fixtures of the media tests: uploads go to a directory of the test's own, rate limits start full."""

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache

from accounts.models import User
from accounts.services import friendship_create
from chats.models import Chat
from groups.models import Group
from groups.services import group_create


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    """The "media" storage writes under the test's tmp_path (Django drops its cached storages when
    STORAGES changes)."""
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root}},
    }
    return root


@pytest.fixture(autouse=True)
def link_clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The links' clock (signing and checking) stands still at the test's start unless the test
    moves it (`link_clock.now`): every rendering of an attachment in a test (the answer,
    message.new, history, sync) gets the same expiry, even when a quarter of
    MEDIA_URL_TTL_SECONDS ends meanwhile, so they can be compared exactly."""
    clock = SimpleNamespace(now=time.time())
    monkeypatch.setattr("media.signing.time", SimpleNamespace(time=lambda: clock.now))
    return clock


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """Rate-limit counters live in the process-wide cache; each test starts with a full budget."""
    cache.clear()


@pytest.fixture
def dave(make_user: Any) -> User:
    return make_user("dave", nickname="Dave")


@pytest.fixture
def pair(alice: User, bob: User) -> Chat:
    """Alice and Bob are friends; their private chat."""
    friendship_create(user_a=alice, user_b=bob)
    return Chat.objects.get(type=Chat.Type.PRIVATE, members__user=bob)


@pytest.fixture
def group(alice: User, bob: User, carol: User) -> Group:
    """Alice owns "Team" with Bob and Carol."""
    for friend in (bob, carol):
        friendship_create(user_a=alice, user_b=friend)
    return group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk])
