"""Media tests store real files: the filesystem storage, in a directory of the test's own. Rate
limits start full; `link_clock` stands the signed links' clock still."""

import io
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import User
from accounts.services import friendship_create
from chats.models import Chat
from groups.models import Group
from groups.services import group_create
from media.models import Attachment
from media.services import attachment_upload
from media.storage import media_storage


@pytest.fixture(autouse=True)
def media_dir(media_root: Path) -> Path:
    """Every media test stores its files on disk in a directory of its own (tests/conftest.py)."""
    return media_root


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """Rate-limit counters live in the process-wide cache; each test starts with a full budget."""
    cache.clear()


@pytest.fixture
def link_clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The links' clock (signing and checking) stands still at the test's start unless the test
    moves it (`link_clock.now`): every rendering of an attachment in a test (the answer,
    message.new, history, sync) gets the same expiry, even when a quarter of
    MEDIA_URL_TTL_SECONDS ends meanwhile, so they can be compared exactly."""
    clock = SimpleNamespace(now=time.time())
    monkeypatch.setattr("media.signing.time", SimpleNamespace(time=lambda: clock.now))
    return clock


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


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def upload(fresh_state: None) -> Callable[..., Attachment]:
    """Upload through the service, as POST /api/uploads does: a text file, or an image (which gets a
    thumbnail). Rate-limit counters start empty (a test uploads more than a minute's share)."""

    def make(user: User, *, image: bool = False, body: bytes = b"some text, stored for real\n") -> Attachment:
        if image:
            file = SimpleUploadedFile("photo.png", png(), content_type="image/png")
        else:
            file = SimpleUploadedFile("notes.txt", body, content_type="text/plain")
        return attachment_upload(actor=user, upload=file)

    return make


def stored_names(attachment: Attachment) -> list[str]:
    return [name for name in (attachment.file, attachment.thumbnail) if name]


def files_exist(attachment: Attachment) -> bool:
    """Whether every file of the attachment is in the storage (all or none, else the test fails)."""
    present = [media_storage().exists(name) for name in stored_names(attachment)]
    assert present and len(set(present)) == 1, present
    return present[0]


def stored_files(root: Path) -> list[str]:
    """Every file under the media storage's directory, by its name there."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
