"""Two-factor sign-in: one TOTP secret per person (stored encrypted) and their recovery codes
(stored as keyed hashes only)."""

from django.conf import settings
from django.db import models


class TwoFactor(models.Model):
    """A person's TOTP enrolment: pending until a first code confirms it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="two_factor"
    )
    # The base32 secret, encrypted with the two-factor key (twofactor.keys); never shown again
    # after the enrolment answer.
    secret = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)  # null: enrolment pending
    # The newest TOTP time step a code was accepted for: a code (or an older one) is never
    # accepted twice, even within its 30-second window.
    last_step = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "two-factor device"

    def __str__(self) -> str:
        return f"two-factor of user {self.user_id}"


class RecoveryCode(models.Model):
    """A one-time code for when the authenticator is lost. Only its keyed hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="recovery_code_unique")]

    def __str__(self) -> str:
        return f"recovery code of user {self.user_id}"
