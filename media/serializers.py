"""The attachment object's shape, for the OpenAPI schema and the REST answers."""

from rest_framework import serializers

from .models import Attachment


class AttachmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Attachment.Kind.values)
    name = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes.")
    mime = serializers.CharField(help_text="Read from the bytes.")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    duration = serializers.FloatField(allow_null=True, help_text="Seconds (voice, video).")
    waveform = serializers.ListField(
        child=serializers.IntegerField(), allow_null=True, help_text="Voice: up to 64 levels 0-255."
    )
    thumbnail = serializers.CharField(
        allow_null=True, help_text="A signed link to a WebP thumbnail (images)."
    )
    url = serializers.CharField(help_text="A signed link to the file; it expires (MEDIA_URL_TTL_SECONDS).")


class UploadInput(serializers.Serializer):
    """multipart/form-data (documentation only: the view reads the parts itself)."""

    file = serializers.FileField()
    kind = serializers.ChoiceField(
        choices=["voice"], required=False, help_text="voice: an audio recording sent as a voice message."
    )
    duration = serializers.FloatField(
        required=False, min_value=0, max_value=86400, help_text="Seconds, measured by the recording client."
    )
    waveform = serializers.CharField(required=False, help_text="A JSON list of at most 64 integers 0-255.")
