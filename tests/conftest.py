"""Shared fixtures: people, signed-in API clients, and an inbox that listens on the real channel layer."""

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services as account_services
from accounts.models import User
from imsuite import event_routes, redis_nodes
from imsuite.settings import env_list
from tests import fast_flush
from tests.event_sources import LayerSource, RouteSource
from tests.shared_state import forget_shared_state

PASSWORD = "a-Strong-passw0rd"

# The tests' bot backends and servers listen on loopback, which the outbound address guard refuses
# by default. Set in the environment too, for the daphne processes the end-to-end tests start.
os.environ.setdefault("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
settings.OUTBOUND_ALLOWED_NETWORKS = env_list("OUTBOUND_ALLOWED_NETWORKS", "")


def _cancel_all_tasks_until_done(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio.Runner's end-of-loop cancellation, repeated and bounded. Python 3.11's wait_for (which
    redis-py sends commands with) can swallow a cancellation, and the stock version then waits for
    ever on a task that keeps running; here each round cancels again, for at most ~10 s."""
    for _ in range(50):
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        if not pending:
            return
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.wait(pending, timeout=0.2))


asyncio.runners._cancel_all_tasks = _cancel_all_tasks_until_done  # every test's event loop ends
fast_flush.install()


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> None:
    """Every test gets its own channel-layer instance. channels-redis binds its receive state to the
    event loop that first used it, and each async test has its own loop: a hub or consumer left
    waiting in an earlier test's loop must not break the next test."""
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)


@pytest.fixture(autouse=True)
def fresh_sequence() -> None:
    """The Redis sequencer starts again with each test's database (imsuite.event_routes): a
    test's seqs start from where the emptied (or rolled back) database is, below the last test's."""
    if settings.REDIS_URL:
        redis_nodes.sync_client().delete(*event_routes.sequence_keys())


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """The rate counters live in the process-wide cache, keyed by user id, and a rolled-back test's
    ids come back in the next test: each test starts with none (only the rate keys go: the cache
    also holds the shared state of live servers on the Redis leg)."""
    from django.core.cache import cache

    backend = getattr(cache, "_cache", None)
    if isinstance(backend, dict):  # LocMemCache: its own delete keeps the expiry table in step
        with cache._lock:
            for key in [key for key in backend if ":rate:" in key]:
                cache._delete(key)
    elif backend is not None and hasattr(backend, "get_client"):  # RedisCache
        client = backend.get_client(write=True)
        keys = list(client.scan_iter(match=cache.make_key("rate:*"), count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture
def media_root(settings: Any, tmp_path: Any) -> Any:
    """The media storage on disk, in a directory of this test's own (its files go with it). Tests
    under tests/media have their own (media_dir, for every test there)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }
    return tmp_path


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    """Password hashing is not under test; MD5 keeps hundreds of registrations fast."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test database, whose other sessions are ended before it is dropped. A
    database thread whose call finished after its test had ended could not give its pooled
    connection back: the test's database blocker refused the clean-up's check
    (close_old_connections asks for autocommit, which asks for a connection). Those sessions
    otherwise keep PostgreSQL from dropping the test database ("being accessed by other users")."""
    yield
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


def pytest_report_header(config: pytest.Config) -> str:
    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    events = "routed in Redis" if settings.REDIS_URL else "in-memory channel layer"
    return f"IM-Suite test leg: database={db}, events={events}"


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
def staff(moderator: User) -> Client:
    """Django admin signed in as the moderator."""
    client = Client()
    client.force_login(moderator)
    return client


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


DOMAIN_EVENT = "domain.event"  # how the inbox hands out an event: {type, event, data}
EVERYONE = "everyone"  # the inbox's key for what goes to every connection (a broadcast)


class Inbox:
    """Listens for the deployment's events the way a process's hub does (tests.event_sources):
    hands each to the listened users of its audience, and a broadcast to the stand-in of
    listen_to_everyone.

    Receiving stays on one event loop of its own (channels-redis keeps per-channel receive buffers
    bound to the loop that created them, and redis-py's asyncio connections belong to one loop),
    whichever loop the code under test publishes from."""

    def __init__(self) -> None:
        self.source = RouteSource() if settings.REDIS_URL else LayerSource()
        self.received: dict[Any, list[dict[str, Any]]] = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def listen(self, *users: Any) -> None:
        self._run(self.source.listen([user.pk for user in users if user.pk != EVERYONE]))
        for user in users:
            self.received[user.pk] = []

    def listen_to_everyone(self) -> SimpleNamespace:
        """A stand-in to drain like a user: it gets the broadcasts, and only those."""
        everyone = SimpleNamespace(pk=EVERYONE)
        self.listen(everyone)
        return everyone

    def drain(self, user: Any, wait: float | None = None) -> list[dict[str, Any]]:
        """Every domain event delivered to this user so far, in the order published: all that was
        sent before this call, or (`wait`) also what comes until `wait` seconds pass quietly."""
        hub_events = self._run(self.source.until_mark() if wait is None else self.source.within(wait))
        for hub_event in hub_events:
            event = {"type": DOMAIN_EVENT, "event": hub_event["event"], "data": hub_event["data"]}
            for key in hub_event["audience"] or [EVERYONE]:
                if key in self.received:
                    self.received[key].append(event)
        got, self.received[user.pk] = self.received[user.pk], []
        return got

    def names(self, user: User) -> list[str]:
        return [message["event"] for message in self.drain(user)]

    def close(self) -> None:
        self._run(self.source.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()  # channels-redis flushes its connections of this loop as it closes


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    yield box
    box.close()


@pytest.fixture
def fresh_state() -> None:
    forget_shared_state()
