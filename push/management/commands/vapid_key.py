"""`manage.py vapid_key`: a new VAPID key pair for Web Push, as VAPID_PRIVATE_KEY takes it."""

from typing import Any

from django.core.management.base import BaseCommand

from push.vapid import new_key, private_raw, public_point


class Command(BaseCommand):
    help = "Print a new VAPID key pair: the VAPID_PRIVATE_KEY line to set, and its public key."

    def handle(self, *args: Any, **options: Any) -> None:
        key = new_key()
        self.stdout.write(f"VAPID_PRIVATE_KEY={private_raw(key)}")
        self.stdout.write(f"# public key (GET /api/push/vapid-key answers it): {public_point(key)}")
