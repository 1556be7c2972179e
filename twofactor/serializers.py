"""Input and output shapes of two-factor sign-in."""

from rest_framework import serializers

from imsuite.api_fields import InputSerializer, StrictCharField


class CodeInput(InputSerializer):
    code = StrictCharField(max_length=16, help_text="The 6 digits the authenticator app shows now.")


class DisableInput(InputSerializer):
    """Either a current code (authenticator or recovery code) or the account's password."""

    code = StrictCharField(max_length=16, required=False, allow_blank=True)
    recovery_code = StrictCharField(max_length=32, required=False, allow_blank=True)
    password = StrictCharField(max_length=128, required=False, allow_blank=True, trim_whitespace=False)


class SecondStepInput(InputSerializer):
    """The challenge of the password step with a code, or with a recovery code instead."""

    challenge = StrictCharField(max_length=1000)
    code = StrictCharField(max_length=16, required=False, allow_blank=True)
    recovery_code = StrictCharField(max_length=32, required=False, allow_blank=True)


class StatusOut(serializers.Serializer):
    enabled = serializers.BooleanField()
    pending = serializers.BooleanField(help_text="An enrolment waits for its first code.")
    required = serializers.BooleanField(help_text="Staff must have it (TWO_FACTOR_REQUIRED_FOR_STAFF).")
    recovery_codes_left = serializers.IntegerField()


class EnrolmentOut(serializers.Serializer):
    otpauth_uri = serializers.CharField(help_text="For authenticator apps; holds the secret: shown once.")
    qr_svg = serializers.CharField(help_text="The same URI as a QR code, an SVG document.")


class RecoveryCodesOut(serializers.Serializer):
    recovery_codes = serializers.ListField(
        child=serializers.CharField(), help_text="Shown once; each works once."
    )
