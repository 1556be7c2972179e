"""Groups: a group chat's name, owner, mutes, notices and join requests.

A group's primary key is its chat's id, so every protocol names a group by one number.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from chats.models import Chat, ChatMember


class Group(models.Model):
    chat = models.OneToOneField(Chat, primary_key=True, on_delete=models.CASCADE, related_name="group")
    name = models.CharField(max_length=64)
    avatar_url = models.URLField(max_length=500, blank=True)
    # Whether plain members may use @all (owner and admins always may).
    members_mention_all = models.BooleanField(default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    dissolved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class Mute(models.Model):
    """A member's mute, or the whole group's when user is empty. Lifting deletes the row."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="mutes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    until = models.DateTimeField(db_index=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="one_mute_per_member"),
            models.UniqueConstraint(
                fields=["group"], condition=models.Q(user__isnull=True), name="one_group_mute"
            ),
        ]

    def __str__(self) -> str:
        return f"mute of {self.user or 'everyone'} in {self.group} until {self.until:%Y-%m-%d %H:%M}"


class Notice(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="notices")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    content = models.TextField()
    image_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["group", "-created_at"])]

    def __str__(self) -> str:
        return f"notice in {self.group}"


class JoinRequest(models.Model):
    """A request to join, or an invitation when operator (the inviter) is not the user joining."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="join_requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    comment = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "user"],
                condition=models.Q(status="pending"),
                name="one_pending_join_request",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.group} ({self.status})"


class GroupMember(ChatMember):
    """Group memberships as moderators see them in admin (memberships of private chats left out)."""

    class Meta:
        proxy = True
        verbose_name = "group member"


class GroupBanQuerySet(models.QuerySet):
    def in_force(self) -> "GroupBanQuerySet":
        """Bans not yet run out. An expired ban is simply no longer counted (nobody is told when
        one ends, so no timer is needed); banning the person again replaces its row."""
        return self.filter(models.Q(until__isnull=True) | models.Q(until__gt=timezone.now()))


class GroupBan(models.Model):
    """Someone kept out of a group: removed if they were in it, and refused when they ask to join,
    are invited or added, or follow an invite link, until lifted (the row is deleted) or `until`
    passes (None: for good). Distinct from a Mute, which the protocols call a "ban"."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="bans")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    until = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = GroupBanQuerySet.as_manager()

    class Meta:
        verbose_name = "group ban"
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="one_ban_per_user")]

    def __str__(self) -> str:
        until = f"until {self.until:%Y-%m-%d %H:%M}" if self.until else "for good"
        return f"ban of {self.user} from {self.group} {until}"


class InviteLink(models.Model):
    """A link anyone signed in can follow into the group (or, with needs_approval, to a join
    request), friends or not, until revoked, expired or used `max_uses` times."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="invite_links")
    token = models.CharField(max_length=64, unique=True)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    needs_approval = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"invite link to {self.group} ({self.uses}/{self.max_uses or '∞'} uses)"
