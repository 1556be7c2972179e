"""Create the media bucket if it is missing (MEDIA_STORAGE=s3): the compose stack runs it once
before the app starts, while the object store may still be starting, so it waits for the store
(bounded). With filesystem storage there is nothing to create."""

import time

from botocore.exceptions import ConnectionError as EndpointUnreachable
from botocore.exceptions import HTTPClientError
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError, CommandParser

from media.s3 import MediaS3Storage

RETRY_SECONDS = 1.0


class Command(BaseCommand):
    help = "Create the S3 bucket of MEDIA_STORAGE=s3 unless it exists, waiting for the store to answer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the store")

    def handle(self, *args: object, wait: float, **options: object) -> None:
        storage = storages["media"]
        if not isinstance(storage, MediaS3Storage):
            self.stdout.write("Media storage is not S3: no bucket to create.")
            return
        deadline = time.monotonic() + wait
        while True:
            try:
                created = storage.bucket_ensure()
                break
            except (EndpointUnreachable, HTTPClientError) as exc:  # not up, or closing on us
                if time.monotonic() >= deadline:
                    raise CommandError(f"The object store did not answer within {wait:g} s: {exc}") from exc
                time.sleep(RETRY_SECONDS)
        state = "created" if created else "already exists"
        self.stdout.write(f"Bucket {storage.bucket_name} {state}.")
