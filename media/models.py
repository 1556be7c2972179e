"""Uploaded files: what was uploaded, by whom, where its bytes are, and which message carries it."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Attachment(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image"
        VIDEO = "video"
        VOICE = "voice"
        FILE = "file"

    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    name = models.CharField(max_length=255)  # the file name the uploader gave, cleaned
    size = models.BigIntegerField()  # bytes of what is stored (after EXIF stripping), counted by the quota
    mime = models.CharField(max_length=127)  # read from the bytes, never from the client
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)  # seconds (voice, video)
    waveform = models.JSONField(null=True, blank=True)  # voice: up to 64 levels 0-255
    # Names in the media storage (STORAGES["media"]); random, so never guessed.
    file = models.CharField(max_length=255)
    thumbnail = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set once, when a message takes it; the chat is kept for the privacy check and admin filters.
    message = models.ForeignKey(
        "chats.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    chat = models.ForeignKey("chats.Chat", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["uploader", "created_at"], name="attachment_by_uploader"),
            models.Index(fields=["message"], name="attachment_by_message"),
            models.Index(fields=["created_at"], name="attachment_by_age"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}: {self.name}"
