"""The S3 path against a real S3-compatible server (moto's standalone server over HTTP, see
s3_server.py): what the media storage writes lands in the bucket, presigned links give the bytes
back, deletion removes the objects, and `manage.py media_bucket` creates the bucket.

PG+Redis leg only, as production is: the embedded leg keeps files on disk."""

import io
import os
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.e2e.conftest import free_port
from tests.media.s3_server import S3Server, s3_media, s3_server, s3_storage_config  # noqa: F401

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="the S3 path runs on the PG+Redis leg"
)


def stored_objects(server: S3Server, bucket: str) -> dict[str, bytes]:
    client = server.client()
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def test_saved_files_land_in_the_bucket_and_never_replace_each_other(
    s3_server: S3Server,  # noqa: F811
    s3_media: str,  # noqa: F811
) -> None:
    storage = storages["media"]
    first = storage.save("u/2026/12/" + "a" * 32, ContentFile(b"first bytes"))
    second = storage.save("u/2026/12/" + "a" * 32, ContentFile(b"second bytes"))
    assert first == "u/2026/12/" + "a" * 32 and second != first  # file_overwrite False
    assert stored_objects(s3_server, s3_media) == {first: b"first bytes", second: b"second bytes"}
    storage.delete(first)
    assert stored_objects(s3_server, s3_media) == {second: b"second bytes"}
    assert not storage.exists(first)


def test_objects_are_private(s3_server: S3Server, s3_media: str) -> None:  # noqa: F811
    name = storages["media"].save("u/2026/12/" + "b" * 32, ContentFile(b"x"))
    grants = s3_server.client().get_object_acl(Bucket=s3_media, Key=name)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]  # the owner only
    assert all(grant["Grantee"].get("URI") is None for grant in grants)  # no AllUsers / AuthenticatedUsers


def test_presigned_links_give_the_bytes_with_the_headers_asked_for(s3_media: str) -> None:  # noqa: F811
    storage = storages["media"]
    name = storage.save("u/2026/12/" + "c" * 32, ContentFile(b"<svg onload=alert(1)></svg>"))
    disposition = "attachment; filename*=UTF-8''logo.svg"
    url = storage.url(
        name,
        parameters={
            "ResponseContentType": "application/octet-stream",
            "ResponseContentDisposition": disposition,
        },
        expire=60,
    )
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["60"] and "X-Amz-Signature" in query
    status, headers, body = fetch(url)
    assert (status, body) == (200, b"<svg onload=alert(1)></svg>")
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"] == disposition


def test_links_are_signed_for_the_public_endpoint_when_it_differs(
    s3_server: S3Server,  # noqa: F811
    s3_media: str,  # noqa: F811
    settings: Any,
) -> None:
    """The server writes through 127.0.0.1; clients are sent to the public name (here localhost)."""
    public = s3_server.endpoint_url.replace("127.0.0.1", "localhost")
    settings.STORAGES = {
        **settings.STORAGES,
        "media": s3_storage_config(s3_server, s3_media, public_endpoint_url=public),
    }
    storage = storages["media"]
    name = storage.save("u/2026/12/" + "d" * 32, ContentFile(b"public bytes"))
    assert stored_objects(s3_server, s3_media) == {name: b"public bytes"}
    url = storage.url(name, parameters={"ResponseContentType": "image/png"}, expire=30)
    assert url.startswith(f"{public}/{s3_media}/{name}?")
    assert parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"] == ["host"]
    status, headers, body = fetch(url)
    assert (status, headers["content-type"], body) == (200, "image/png", b"public bytes")


def test_the_bucket_command_creates_the_bucket_once(s3_server: S3Server, settings: Any) -> None:  # noqa: F811
    settings.STORAGES = {**settings.STORAGES, "media": s3_storage_config(s3_server, "fresh-media-bucket")}
    out = io.StringIO()
    call_command("media_bucket", "--wait", "5", stdout=out)
    call_command("media_bucket", "--wait", "5", stdout=out)
    assert out.getvalue().splitlines() == [
        "Bucket fresh-media-bucket created.",
        "Bucket fresh-media-bucket already exists.",
    ]
    assert "fresh-media-bucket" in [b["Name"] for b in s3_server.client().list_buckets()["Buckets"]]


def test_the_bucket_command_gives_up_on_a_store_that_never_answers(
    s3_server: S3Server,  # noqa: F811
    settings: Any,
) -> None:
    nowhere = S3Server(f"http://127.0.0.1:{free_port()}", s3_server.log_path)
    settings.STORAGES = {**settings.STORAGES, "media": s3_storage_config(nowhere, "any-bucket")}
    with pytest.raises(CommandError, match=r"The object store did not answer within 0\.5 s"):
        call_command("media_bucket", "--wait", "0.5")


def test_the_bucket_command_has_nothing_to_do_with_filesystem_storage() -> None:
    out = io.StringIO()
    call_command("media_bucket", stdout=out)
    assert out.getvalue() == "Media storage is not S3: no bucket to create.\n"
