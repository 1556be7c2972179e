"""Leaving's tests store real files (the media fixtures)."""

from tests.media.conftest import media_dir, upload  # noqa: F401  (fixtures)
