"""Link previews: what a linked page says of itself, fetched once per URL and kept for a while,
and which messages show it. The message carries its previews' rendering (chats.Message
.link_previews) so history, sync and events need no join; these rows are the cache and the index
that clearing a preview walks."""

from django.db import models


class LinkPreview(models.Model):
    """One URL's preview, shared by every message that links to it, fetched again after
    LINK_PREVIEW_TTL_SECONDS (previews.services.TTL_SECONDS). A failed or empty fetch is cached
    too, so a dead link is not asked again for every message; a cleared one is never fetched again."""

    class Status(models.TextChoices):
        OK = "ok"  # title or description found
        EMPTY = "empty"  # an HTML page that says nothing of itself
        FAILED = "failed"  # refused address, not HTML, too slow, an error
        CLEARED = "cleared"  # a moderator took it down

    url_hash = models.CharField(max_length=64, unique=True)  # SHA-256 hex of url
    url = models.TextField()
    title = models.CharField(max_length=300, blank=True)
    description = models.CharField(max_length=1000, blank=True)
    site_name = models.CharField(max_length=200, blank=True)
    image_name = models.CharField(max_length=64, blank=True)  # our thumbnail in media storage
    status = models.CharField(max_length=7, choices=Status.choices)
    error = models.CharField(max_length=200, blank=True)  # why it failed, for the admin
    fetched_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.url


class MessageLinkPreview(models.Model):
    """A message shows a preview: kept by the worker that attaches it, read only when clearing."""

    message_id = models.BigIntegerField()
    preview = models.ForeignKey(LinkPreview, on_delete=models.CASCADE, related_name="uses")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message_id", "preview"], name="message_link_preview_unique")
        ]
        indexes = [models.Index(fields=["message_id"], name="link_preview_by_message")]

    def __str__(self) -> str:
        return f"message {self.message_id} shows {self.preview_id}"


class PreviewState(models.Model):
    """One row: messages up to `message_id` were looked at for links."""

    message_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"looked at up to message {self.message_id}"


class PreviewRefresh(models.Model):
    """An edited message whose links are to be looked at again (written by the edit)."""

    message_id = models.BigIntegerField(unique=True)

    def __str__(self) -> str:
        return f"refresh message {self.message_id}"
