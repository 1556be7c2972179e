"""Shared fixtures: people, signed-in API clients, and an inbox that listens on the real channel layer."""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services as account_services
from accounts.models import User
from imsuite.events import user_group

PASSWORD = "a-Strong-passw0rd"


def pytest_report_header(config: pytest.Config) -> str:
    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"IM-Suite test leg: database={db}, channel layer={layer}"


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(username: str | None = None, **profile: Any) -> User:
        return account_services.user_register(
            username=username or f"user{next(counter)}", password=PASSWORD, **profile
        )

    return make


@pytest.fixture
def alice(make_user: Callable[..., User]) -> User:
    return make_user("alice", nickname="Alice", sex="female", age=28)


@pytest.fixture
def bob(make_user: Callable[..., User]) -> User:
    return make_user("bob", nickname="Bob", sex="male", age=31)


@pytest.fixture
def carol(make_user: Callable[..., User]) -> User:
    return make_user("carol", nickname="Carol")


@pytest.fixture
def moderator(make_user: Callable[..., User]) -> User:
    user = make_user("mod", nickname="Moderator")
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    user.refresh_from_db()
    return user


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    """An API client signed in as the given user with a real access token."""

    def make(user: User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return make


class Inbox:
    """Listens on the real channel layer in each user's group, the way a connection does."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channels: dict[int, str] = {}

    def listen(self, *users: User) -> None:
        for user in users:
            channel = async_to_sync(self.layer.new_channel)()
            async_to_sync(self.layer.group_add)(user_group(user.pk), channel)
            self.channels[user.pk] = channel

    def drain(self, user: User, wait: float = 0.3) -> list[dict[str, Any]]:
        """Every domain event delivered to this user so far, oldest first."""

        async def receive_all() -> list[dict[str, Any]]:
            got = []
            while True:
                try:
                    got.append(await asyncio.wait_for(self.layer.receive(self.channels[user.pk]), wait))
                except TimeoutError:
                    return got

        return async_to_sync(receive_all)()

    def names(self, user: User) -> list[str]:
        return [message["event"] for message in self.drain(user)]


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()
