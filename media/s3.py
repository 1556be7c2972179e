"""The media storage on an S3-compatible object store: django-storages' S3Storage, with presigned
links for the host clients reach when that is not the one the server talks to (the compose stack's
store is http://seaweedfs:8333 to the server, http://localhost:8333 or https://files.example.com to
browsers). A SigV4 signature covers the Host, so the link must be signed for the public host; only
signing changes, uploads and deletions still go to endpoint_url."""

from functools import cached_property
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from storages.backends.s3 import S3Storage
from storages.utils import clean_name


class MediaS3Storage(S3Storage):
    def get_default_settings(self) -> dict[str, Any]:
        return {**super().get_default_settings(), "public_endpoint_url": None}

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("public_client", None)
        return state

    @cached_property
    def public_client(self) -> BaseClient:
        """A client for public_endpoint_url, used only to presign (a signature needs no request)."""
        return self._create_session().client(
            "s3",
            region_name=self.region_name,
            use_ssl=self.use_ssl,
            endpoint_url=self.public_endpoint_url,
            config=self.client_config,
            verify=self.verify,
        )

    def url(
        self,
        name: str,
        parameters: dict[str, str] | None = None,
        expire: int | None = None,
        http_method: str | None = None,
    ) -> str:
        if not self.public_endpoint_url:
            return super().url(name, parameters, expire, http_method)
        params = {
            **(parameters or {}),
            "Bucket": self.bucket_name,
            "Key": self._normalize_name(clean_name(name)),
        }
        return self.public_client.generate_presigned_url(
            "get_object",
            Params=params,
            ExpiresIn=self.querystring_expire if expire is None else expire,
            HttpMethod=http_method,
        )

    def bucket_ensure(self) -> bool:
        """Create the bucket unless it exists (private: no ACL granted); True when it was created."""
        client = self.connection.meta.client
        try:
            client.head_bucket(Bucket=self.bucket_name)
            return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket", "NotFound"}:
                raise
        where = {}
        if self.region_name and self.region_name != "us-east-1":  # AWS refuses us-east-1 as a constraint
            where = {"CreateBucketConfiguration": {"LocationConstraint": self.region_name}}
        client.create_bucket(Bucket=self.bucket_name, **where)
        return True
