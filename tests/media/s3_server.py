"""A real S3-compatible server for the S3 tests: moto's standalone server (HTTP, SigV4, presigned
URLs) in a subprocess on a free port of 127.0.0.1, not moto's in-process mock: the storage backend,
botocore and the presigned links go over the network as they do against a production store.

`s3_server` (module-scoped) starts one and stops it after; `s3_media` (per test) creates a fresh
bucket there and makes it STORAGES["media"] for the test."""

import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from django.core.files.storage import storages

from tests.e2e.conftest import free_port, stop_process

START_TIMEOUT_SECONDS = 20.0
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
REGION = "us-east-1"


@dataclass
class S3Server:
    endpoint_url: str
    log_path: Path

    def client(self, endpoint_url: str | None = None) -> BaseClient:
        """A boto3 client of the server (path-style, as the storage is configured)."""
        return boto3.client(
            "s3",
            endpoint_url=endpoint_url or self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )


def wait_until_answering(process: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto server not answering after {START_TIMEOUT_SECONDS} s") from exc
            time.sleep(0.05)


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="moto-server-", suffix=".log")[1])
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    endpoint_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(process, f"{endpoint_url}/moto-api/")
        yield S3Server(endpoint_url, log_path)
    finally:
        stop_process(process)
        log_path.unlink(missing_ok=True)


# What imsuite/settings.py sets whatever the environment says (test_storage_settings.py checks it).
FIXED_OPTIONS = {
    "signature_version": "s3v4",
    "default_acl": None,
    "querystring_auth": True,
    "querystring_expire": 300,
    "file_overwrite": False,
}


def s3_storage_config(server: S3Server, bucket: str, **options: Any) -> dict[str, Any]:
    """STORAGES["media"] as imsuite/settings.py builds it for MEDIA_STORAGE=s3."""
    return {
        "BACKEND": "media.s3.MediaS3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": server.endpoint_url,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "region_name": REGION,
            "addressing_style": "path",
            **FIXED_OPTIONS,
            **options,
        },
    }


@pytest.fixture
def s3_media(s3_server: S3Server, settings: Any) -> Iterator[str]:
    """A new private bucket as the media storage of one test; yields its name."""
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=bucket)
    # Assigning STORAGES sends setting_changed, whose receiver empties the storages cache (and again
    # when the settings fixture restores it); checked here so that a test never writes to disk.
    settings.STORAGES = {**settings.STORAGES, "media": s3_storage_config(s3_server, bucket)}
    assert storages["media"].bucket_name == bucket
    yield bucket
