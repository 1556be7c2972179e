from collections.abc import Callable, Iterator

import pytest

from accounts.models import User
from push.models import PushSubscription
from push.pusher import Pusher
from push.services import subscription_register
from tests.push.endpoint import Endpoint


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.close()


@pytest.fixture
def pusher(endpoint: Endpoint) -> Iterator[Pusher]:
    """A pusher of the test's own; its requests still in flight finish before the endpoint closes."""
    engine = Pusher()
    yield engine
    engine.drain(10)


@pytest.fixture
def subscribe(endpoint: Endpoint) -> Callable[..., PushSubscription]:
    """A UnifiedPush device of `user` at the endpoint's `path`."""

    def make(user: User, path: str, **options: object) -> PushSubscription:
        return subscription_register(actor=user, kind="unifiedpush", endpoint=endpoint.url(path), **options)

    return make
