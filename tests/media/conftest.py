"""Media tests store real files: the filesystem storage, in a directory of the test's own."""

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import User
from media.models import Attachment
from media.services import attachment_upload
from media.storage import media_storage


@pytest.fixture(autouse=True)
def media_dir(media_root: Path) -> Path:
    """Every media test stores its files on disk in a directory of its own (tests/conftest.py)."""
    return media_root


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
