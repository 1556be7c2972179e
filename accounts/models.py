"""People, bots and who is friends with whom."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower


class Sex(models.TextChoices):
    MALE = "male"
    FEMALE = "female"
    UNKNOWN = "unknown"


class CaseInsensitiveUserManager(UserManager):
    """Usernames are unique regardless of case, so sign-in must not depend on case either."""

    def get_by_natural_key(self, username: str) -> "User":
        return self.get(username__iexact=username)


class User(AbstractUser):
    nickname = models.CharField(max_length=64, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    sex = models.CharField(max_length=7, choices=Sex.choices, default=Sex.UNKNOWN)
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    bio = models.CharField(max_length=500, blank=True)
    is_bot = models.BooleanField(default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="bots"
    )
    last_seen = models.DateTimeField(null=True, blank=True)
    # `email` (AbstractUser's) is the address last given; only a verified one is used for a reset.
    email_verified = models.BooleanField(default=False)

    objects = CaseInsensitiveUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
            # Unverified addresses may repeat (anyone can type anyone's); a verified one is one
            # account's, whatever its case, so a reset by address finds one account at most.
            models.UniqueConstraint(
                Lower("email"), condition=models.Q(email_verified=True), name="user_verified_email_ci_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(is_bot=False, owner__isnull=True)
                | models.Q(is_bot=True, owner__isnull=False),
                name="user_bot_has_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def display_name(self) -> str:
        return self.nickname or self.username


class BotToken(models.Model):
    """A bot's long-lived credential. Only its SHA-256 is stored; the token is shown once."""

    bot = models.ForeignKey(User, on_delete=models.CASCADE, related_name="bot_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a token in logs.")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bot"], condition=models.Q(revoked_at__isnull=True), name="one_live_token"
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.bot})"


class RevokedSession(models.Model):
    """A signed-out session ("sid"), kept while an access token of it can live. The database is the
    truth; the cache only speeds the check up (accounts.sessions), so a wiped cache forgets nothing."""

    sid = models.CharField(max_length=64, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.sid


class UserSession(models.Model):
    """A signed-in session (accounts.sessions.start_session): the device and address it began on,
    shown to its owner so that they can recognise it and sign it out."""

    sid = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    user_agent = models.CharField(max_length=300, blank=True)
    browser = models.CharField(
        max_length=32, blank=True, help_text="Read from the user agent (accounts.devices)."
    )
    system = models.CharField(
        max_length=32, blank=True, help_text="Read from the user agent (accounts.devices)."
    )
    address = models.CharField(max_length=45, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "-last_used_at"])]

    def __str__(self) -> str:
        return f"{self.user}: {self.browser} {self.system} ({self.address})"


class Friendship(models.Model):
    """Stored in both directions (two rows), so "my friends" is one indexed lookup."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="friendships")
    friend = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "friend"], name="friendship_unique"),
            models.CheckConstraint(condition=~models.Q(user=models.F("friend")), name="friendship_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ↔ {self.friend}"


class FriendRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        CANCELLED = "cancelled"

    from_user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="friend_requests_sent")
    to_user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="friend_requests_received")
    message = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["from_user", "to_user"],
                condition=models.Q(status="pending"),
                name="one_pending_friend_request",
            ),
            models.CheckConstraint(
                condition=~models.Q(from_user=models.F("to_user")), name="friend_request_not_self"
            ),
        ]
        indexes = [models.Index(fields=["to_user", "status"])]

    def __str__(self) -> str:
        return f"{self.from_user} → {self.to_user} ({self.status})"


class Notification(models.Model):
    """A system notification sent by staff, to chosen users or (no recipients) to everyone."""

    class Level(models.TextChoices):
        INFO = "info"
        SUCCESS = "success"
        WARNING = "warning"
        ERROR = "error"

    title = models.CharField(max_length=100)
    message = models.CharField(max_length=1000)
    type = models.CharField(max_length=7, choices=Level.choices, default=Level.INFO)
    action_url = models.URLField(max_length=500, blank=True)
    recipients = models.ManyToManyField(User, blank=True, related_name="+", help_text="Empty: everyone.")
    sent_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title


class Block(models.Model):
    """One person blocking another (docs/architecture.md, "Blocking"). One row per direction: a
    block is the blocker's own decision, which the other side neither sees nor can lift."""

    blocker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocks")
    blocked = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocked_by")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_unique"),
            models.CheckConstraint(condition=~models.Q(blocker=models.F("blocked")), name="block_not_self"),
        ]
        indexes = [models.Index(fields=["blocked", "blocker"], name="block_by_blocked")]

    def __str__(self) -> str:
        return f"{self.blocker} ⊘ {self.blocked}"
