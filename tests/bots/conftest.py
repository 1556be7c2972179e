"""Fixtures of the bot sandbox protocol tests (helpers.py holds the rest)."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from accounts.models import User
from accounts.services import bot_create
from tests.shared_state import forget_shared_state

from .helpers import WAIT, Sockets


@pytest.fixture(autouse=True)
def fresh() -> None:
    forget_shared_state()


@pytest.fixture(autouse=True)
async def tasks_end() -> AsyncIterator[None]:
    """After an async test, whatever its event loop still runs (the loop's hub, consumers) ends, so
    that nothing of the test (a hub's blocking stream read among it) outlives its loop. Cancelling
    is repeated because Python 3.11's asyncio.wait_for, which redis-py sends commands with, can
    swallow a cancellation that lands as a send completes."""
    yield
    for _ in range(20):
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        if not others:
            return
        for task in others:
            task.cancel()
        await asyncio.wait(others, timeout=WAIT / 20)
    raise AssertionError(f"tasks that would not end: {others}")


@pytest.fixture
def bot_and_token(alice: User) -> tuple[User, str]:
    """Alice's bot "Robo" (her friend, as every new bot) and its token."""
    return bot_create(actor=alice, username="robo", nickname="Robo")


@pytest.fixture
def bot(bot_and_token: tuple[User, str]) -> User:
    return bot_and_token[0]


@pytest.fixture
def bot_token(bot_and_token: tuple[User, str]) -> str:
    return bot_and_token[1]


@pytest.fixture
async def sockets(transactional_db: None) -> AsyncIterator[Sockets]:
    opened = Sockets()
    yield opened
    await opened.close_all()
