"""The media tests' storage: a directory of each test's own, so what a test stored (or did not) is
exactly what that test finds there."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.storage import storages


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Iterator[Path]:
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {**settings.STORAGES["media"], "OPTIONS": {"location": tmp_path}},
    }
    storages._storages.pop("media", None)
    yield tmp_path
    storages._storages.pop("media", None)


def stored_files(root: Path) -> list[str]:
    """Every file under the media storage's directory, by its name there."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
