"""Chats, who is in them, and the messages they hold."""

from typing import Protocol

from django.conf import settings
from django.db import models
from django.utils import timezone


class Chat(models.Model):
    class Type(models.TextChoices):
        PRIVATE = "private"
        GROUP = "group"

    type = models.CharField(max_length=7, choices=Type.choices)
    # "<low id>:<high id>" for a private chat, so each pair of people has exactly one.
    private_key = models.CharField(max_length=41, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Moved by every message batch, so not indexed (nothing looks chats up by it): an indexed
    # column makes each such update a new row version with new index entries that only VACUUM
    # removes; unindexed, PostgreSQL updates it in place on the page (HOT, see migration 0004).
    last_message_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.type} chat {self.pk}"


class SeqCounter(models.Model):
    """The one counter behind every message change's seq. Taking the next value locks this row
    until commit, so seq order is commit order: a client that has seen seq N can never later
    miss a change with a smaller seq (see chats.services.next_seq)."""

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"seq {self.value}"


class Role(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class Membership(Protocol):
    """Someone's standing in a chat: a ChatMember row, or the plain values a batch reads of one."""

    user_id: int
    chat_id: int
    role: str
    level: str
    card: str


class Notify(models.TextChoices):
    ALL = "all"
    MENTIONS = "mentions"
    MUTED = "muted"


class ChatMember(models.Model):
    """Membership of any chat. For groups it also carries role, level and card (the in-group name),
    so one indexed row answers both "may this person send here?" and "how much is unread?"."""

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_memberships"
    )
    role = models.CharField(max_length=6, choices=Role.choices, default=Role.MEMBER)
    level = models.CharField(max_length=32, default="0")
    card = models.CharField(max_length=64, blank=True)
    joined_at = models.DateTimeField(auto_now_add=True)
    last_read_message_id = models.BigIntegerField(default=0)
    # How far this member's devices have received the chat (issue 22, chats.receipts): the ack of
    # a client, cumulative like the read position; the sender's "delivered" ticks in private chats.
    last_delivered_message_id = models.BigIntegerField(default=0)
    # Notifications (issue 19): what this member is told of the chat's messages, muted until a time
    # (null: until changed), and how many unread messages mention them (kept by sends and reads).
    notify = models.CharField(max_length=8, choices=Notify.choices, default=Notify.ALL)
    notify_until = models.DateTimeField(null=True, blank=True)
    unread_mentions = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chat", "user"], name="chat_member_unique")]
        indexes = [models.Index(fields=["user", "chat"], name="member_by_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.chat}"


class Message(models.Model):
    class Type(models.TextChoices):
        TEXT = "text"
        IMAGE = "image"
        FILE = "file"
        VIDEO = "video"
        VOICE = "voice"
        SYSTEM = "system"

    # Its id is the one stable message id used by the client protocol, the bot protocol and REST.
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages", db_index=False)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content = models.TextField(blank=True)
    message_type = models.CharField(max_length=6, choices=Type.choices, default=Type.TEXT)
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    client_msg_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001  NULL = none given
    created_at = models.DateTimeField(default=timezone.now)
    is_edited = models.BooleanField(default=False)
    updated_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # seq of the message's latest change (send, edit, delete) and of its creation; sync replays by seq.
    seq = models.BigIntegerField(default=0)
    created_seq = models.BigIntegerField(default=0)
    # What the message's uploaded files are (media.rendering.attachment_meta of each, in order),
    # kept with the row so that history, sync and events render them without another query.
    attachments = models.JSONField(null=True, blank=True)
    # Who the message calls by name (issue 19): user ids, and "all" for @all; null: nobody.
    mentions = models.JSONField(null=True, blank=True)
    # Its reactions' summary (chats.reactions.summary), kept with the row like attachments; null: none.
    reactions = models.JSONField(null=True, blank=True)
    # A forwarded message's origin as shown (chats.forwarding): {message_id, chat_id, sender_id,
    # sender_name, sent_at}, copied so that it stays when the original is recalled; null: not forwarded.
    forwarded_from = models.JSONField(null=True, blank=True)
    # Previews of the pages it links to (previews.services.preview_view of each), set after the
    # send by the timers process; null: none.
    link_previews = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["chat", "id"], name="message_history"),
            models.Index(fields=["chat", "seq"], name="message_changes"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "client_msg_id"],
                condition=models.Q(client_msg_id__isnull=False),
                name="message_client_id_unique",
            )
        ]

    def __str__(self) -> str:
        return f"message {self.pk} in chat {self.chat_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Reaction(models.Model):
    """One person's emoji on one message (issue 22); the message's `reactions` summarises them."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user", "emoji"], name="reaction_unique")]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on message {self.message_id}"


class MessageText(models.Model):
    """PostgreSQL's search copy of a message's text, under the trigram index (chats.search_index):
    filled by the timers process after the send, so that sending never updates the index; edits
    and recalls write it in their own transaction. SQLite does not use it (its FTS5 table)."""

    message = models.OneToOneField(
        Message, primary_key=True, on_delete=models.CASCADE, db_constraint=False, related_name="+"
    )
    # The message's chat and sender, so that a search picks its page here and reads only its
    # page's messages (no foreign keys: the message is the truth, this is an index of it).
    chat_id = models.BigIntegerField()
    sender_id = models.BigIntegerField(null=True)
    content = models.TextField()

    def __str__(self) -> str:
        return f"search text of message {self.message_id}"


class SearchState(models.Model):
    """One row: the messages up to `seq` (the newest of them `message_id`) are in MessageText."""

    seq = models.BigIntegerField(default=0)
    message_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"indexed up to seq {self.seq}"


class Draft(models.Model):
    """What a person has begun writing in a chat, kept for all their devices. A message they send
    in the chat afterwards supersedes it: a draft counts only while no message of theirs in the
    chat is newer than `base_message_id` (the chat's newest message when it was saved), so that
    sending never has to touch drafts (chats.drafts)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="+")
    text = models.TextField()
    reply_to = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    base_message_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "chat"], name="draft_unique")]

    def __str__(self) -> str:
        return f"draft of {self.user_id} in chat {self.chat_id}"


class MessageEdit(models.Model):
    """A message's text before one of its edits (chats.edit_history). A recall deletes them all:
    recalling removes the words, also their earlier versions."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="edits", db_index=False)
    content = models.TextField(blank=True)
    edited_at = models.DateTimeField()  # when this text was replaced
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["message", "id"], name="message_edits")]

    def __str__(self) -> str:
        return f"edit of message {self.message_id} at {self.edited_at}"


class Pin(models.Model):
    """A message pinned in its chat (chats.pins): at most PINS_PER_CHAT_MAX per chat, newest first."""

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="+", db_index=False)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pinned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chat", "message"], name="pin_unique")]
        indexes = [models.Index(fields=["chat", "-pinned_at"], name="pins_by_chat")]

    def __str__(self) -> str:
        return f"pin of message {self.message_id} in chat {self.chat_id}"
