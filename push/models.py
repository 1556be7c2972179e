"""Devices that receive pushes while their person is not connected, and the pusher's own state."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class PushSubscription(models.Model):
    class Kind(models.TextChoices):
        WEBPUSH = "webpush"  # RFC 8030/8291 with VAPID: a browser's push service
        UNIFIEDPUSH = "unifiedpush"  # a mobile app's own endpoint, POSTed to directly

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=11, choices=Kind.choices)
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200, blank=True)  # Web Push: the browser's public key
    auth = models.CharField(max_length=100, blank=True)  # Web Push: the auth secret
    label = models.CharField(max_length=100, blank=True)  # the device, as its owner names it
    previews = models.BooleanField(default=True)  # whether pushes carry the message's text
    created_at = models.DateTimeField(default=timezone.now)
    last_success_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)  # in a row; backoff grows with them
    retry_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    # The latest payload that could not be delivered, sent again at retry_at (only the latest: a
    # device that was unreachable for an hour wants the news, not every message of the hour).
    retry_payload = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user"], name="push_subscription_by_user"),
            models.Index(fields=["retry_at"], name="push_subscription_retry"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of user {self.user_id}"


class PushState(models.Model):
    """One row: the seq up to which messages have been considered for pushes."""

    seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"pushed up to seq {self.seq}"


class VapidKey(models.Model):
    """The embedded mode's VAPID key pair, made once (production sets VAPID_PRIVATE_KEY)."""

    private_key = models.TextField()
    public_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return "VAPID key pair"
