"""MEDIA_STORAGE and the S3_* variables as imsuite/settings.py reads them (a fresh interpreter per
case: settings are read once, at import)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.media.s3_server import FIXED_OPTIONS

ROOT = Path(__file__).resolve().parents[2]
PRINT_MEDIA_SETTINGS = (
    "import json; from imsuite import settings as s; "
    "print(json.dumps([s.STORAGES['media'], s.MEDIA_ACCEL_REDIRECT_PREFIX], default=str))"
)


def load(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "MEDIA_"))}
    return subprocess.run(
        [sys.executable, "-c", PRINT_MEDIA_SETTINGS],
        cwd=ROOT,
        env={**base, "DATA_DIR": str(ROOT / "var"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def media_settings(**env: str) -> tuple[dict, str]:
    done = load(**env)
    assert done.returncode == 0, done.stderr
    storage, prefix = json.loads(done.stdout)
    return storage, prefix


def test_files_go_under_data_dir_by_default() -> None:
    storage, prefix = media_settings()
    assert storage == {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(ROOT / "var" / "media")},
    }
    assert prefix == ""


def test_the_accel_redirect_prefix_is_read_without_its_trailing_slash() -> None:
    assert media_settings(MEDIA_ACCEL_REDIRECT_PREFIX="/protected-media/")[1] == "/protected-media"


def test_s3_is_configured_from_the_environment() -> None:
    storage, _ = media_settings(
        MEDIA_STORAGE="s3",
        S3_BUCKET="imsuite-media",
        S3_ENDPOINT_URL="http://seaweedfs:8333",
        S3_PUBLIC_ENDPOINT_URL="https://files.example.com",
        S3_ACCESS_KEY_ID="key-id",
        S3_SECRET_ACCESS_KEY="key-secret",
        S3_REGION="eu-west-3",
        S3_ADDRESSING_STYLE="path",
    )
    assert storage == {
        "BACKEND": "media.s3.MediaS3Storage",
        "OPTIONS": {
            "bucket_name": "imsuite-media",
            "endpoint_url": "http://seaweedfs:8333",
            "public_endpoint_url": "https://files.example.com",
            "access_key": "key-id",
            "secret_key": "key-secret",
            "region_name": "eu-west-3",
            "addressing_style": "path",
            **FIXED_OPTIONS,
        },
    }


def test_s3_on_aws_needs_only_the_bucket() -> None:
    """Empty endpoint: AWS itself; no keys: boto3's own chain (an instance role, AWS_* variables)."""
    options = media_settings(MEDIA_STORAGE="s3", S3_BUCKET="b1", S3_ENDPOINT_URL="")[0]["OPTIONS"]
    assert {k: options[k] for k in ("endpoint_url", "public_endpoint_url", "access_key", "secret_key")} == {
        "endpoint_url": None,
        "public_endpoint_url": None,
        "access_key": None,
        "secret_key": None,
    }


def test_s3_without_a_bucket_is_refused_at_startup() -> None:
    done = load(MEDIA_STORAGE="s3")
    assert done.returncode != 0
    assert "ImproperlyConfigured: S3_BUCKET must be set when MEDIA_STORAGE=s3." in done.stderr


def test_an_unknown_storage_or_addressing_style_is_refused_at_startup() -> None:
    done = load(MEDIA_STORAGE="ftp")
    assert done.returncode != 0
    assert "ImproperlyConfigured: MEDIA_STORAGE must be filesystem or s3, not 'ftp'." in done.stderr
    done = load(MEDIA_STORAGE="s3", S3_BUCKET="b1", S3_ADDRESSING_STYLE="sideways")
    assert done.returncode != 0
    assert "ImproperlyConfigured: S3_ADDRESSING_STYLE must be auto, path or virtual." in done.stderr
