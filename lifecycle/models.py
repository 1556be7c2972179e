"""Leaving: a requested account deletion (carried out after a grace period) and data exports."""

from django.conf import settings
from django.db import models


class AccountDeletion(models.Model):
    """A person asked for their account to be deleted. Kept after it was carried out (completed_at),
    so the anonymisation is resumable and the account is never processed twice."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    requested_at = models.DateTimeField()
    due_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"deletion of user {self.user_id}"


class DataExport(models.Model):
    """An archive of a person's data, built by the timers process, downloadable until expires_at."""

    class Status(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"
        EXPIRED = "expired"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    file = models.CharField(max_length=255, blank=True)  # its name in the media storage
    size = models.BigIntegerField(default=0)
    # Files left out because the archive reached DATA_EXPORT_MAX_BYTES (listed in the archive).
    files_left_out = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"], name="data_export_queue")]

    def __str__(self) -> str:
        return f"export {self.pk} of user {self.user_id} ({self.status})"
