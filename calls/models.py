"""Voice and video calls: the signalling state the server keeps, and the history users see."""

from django.conf import settings
from django.db import models


class Call(models.Model):
    class Type(models.TextChoices):
        AUDIO = "audio"
        VIDEO = "video"

    class State(models.TextChoices):
        RINGING = "ringing"
        ACTIVE = "active"
        ENDED = "ended"

    class Outcome(models.TextChoices):
        ANSWERED = "answered"
        MISSED = "missed"
        REJECTED = "rejected"
        BUSY = "busy"

    call_id = models.CharField(max_length=40, unique=True)
    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calls_made")
    callee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calls_received"
    )
    call_type = models.CharField(max_length=5, choices=Type.choices)
    state = models.CharField(max_length=7, choices=State.choices, default=State.RINGING)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, blank=True)
    duration = models.PositiveIntegerField(default=0, help_text="Seconds from answer to end.")
    # The connections taking part (connection ids, imsuite.ws.new_connection_id): the offering
    # device, and the device that answered. Signalling goes to them only once known; a party
    # reconnecting takes over from its new connection.
    caller_channel = models.CharField(max_length=200, blank=True)
    callee_channel = models.CharField(max_length=200, blank=True)
    # When a party's last connection dropped during the call; cleared when it comes back.
    caller_lost_at = models.DateTimeField(null=True, blank=True)
    callee_lost_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["caller", "-created_at"]),
            models.Index(fields=["callee", "-created_at"]),
            models.Index(fields=["state"]),
        ]

    def __str__(self) -> str:
        return self.call_id
