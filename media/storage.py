"""Where media bytes live: the storage named "media" in settings.STORAGES (files under DATA_DIR in
the embedded mode, an S3-compatible object store in production), and the names given to them."""

import secrets

from django.core.files.storage import Storage, storages
from django.utils import timezone


def media_storage() -> Storage:
    return storages["media"]


def new_name(prefix: str = "u", suffix: str = "") -> str:
    """A fresh random name ("u/2026/12/<32 hex>"): never guessed, never reused, spread by month."""
    return f"{prefix}/{timezone.now():%Y/%m}/{secrets.token_hex(16)}{suffix}"
