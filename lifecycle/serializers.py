"""Input and output shapes of account deletion and data export."""

from rest_framework import serializers

from imsuite.api_fields import InputSerializer, StrictCharField

from .models import DataExport


class DeletionInput(InputSerializer):
    password = StrictCharField(max_length=128, trim_whitespace=False)
    code = StrictCharField(
        max_length=16, required=False, allow_blank=True, help_text="When two-factor is on."
    )
    recovery_code = StrictCharField(max_length=32, required=False, allow_blank=True)


class DeletionOut(serializers.Serializer):
    requested_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(help_text="Signing in before this cancels the deletion.")


class ExportOut(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DataExport
        fields = [
            "id",
            "status",
            "created_at",
            "finished_at",
            "expires_at",
            "size",
            "files_left_out",
            "download_url",
        ]

    def get_download_url(self, export: DataExport) -> str | None:
        """Relative; GET it with the bearer token while status is ready."""
        if export.status != DataExport.Status.READY:
            return None
        return f"/api/users/me/exports/{export.pk}/download"
