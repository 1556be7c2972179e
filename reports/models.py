"""Abuse reports: who reported what, why, a copy of what they saw, and how it was handled.

The target is named by kind and id, not by a foreign key: the evidence must outlive the message,
profile or group it was taken from."""

from django.conf import settings
from django.db import models


class Report(models.Model):
    class Kind(models.TextChoices):
        MESSAGE = "message"
        USER = "user"
        GROUP = "group"

    class Reason(models.TextChoices):
        SPAM = "spam"
        HARASSMENT = "harassment"
        ILLEGAL = "illegal"
        OTHER = "other"

    class Status(models.TextChoices):
        OPEN = "open"
        ACTIONED = "actioned"
        DISMISSED = "dismissed"

    class Outcome(models.TextChoices):
        RECALL = "recall"
        MUTE = "mute"
        KICK = "kick"
        DEACTIVATE = "deactivate"
        DISMISS = "dismiss"

    # Kept when the reporter's row goes: what they reported still needs an answer.
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=7, choices=Kind.choices)
    target_id = models.BigIntegerField(help_text="The message, user or group id, by kind.")
    # The group it happened in (a message of a group, or the group reported): its owner and
    # admins see the message reports; moderators filter by it.
    group = models.ForeignKey(
        "groups.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Whom an action hits: the message's sender or the user reported (none for a group).
    offender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=10, choices=Reason.choices)
    comment = models.CharField(max_length=1000, blank=True)
    evidence = models.JSONField(help_text="What the reporter saw, copied when they reported it.")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.OPEN)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reporter", "kind", "target_id"],
                condition=models.Q(status="open"),
                name="one_open_report_per_target",
            )
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="report_queue"),
            models.Index(fields=["group", "status"], name="report_by_group"),
            models.Index(fields=["kind", "target_id"], name="report_by_target"),
        ]

    def __str__(self) -> str:
        return f"report {self.pk}: {self.kind} {self.target_id} ({self.status})"
