"""Bots' connections: reverse-mode endpoints (bot backends that IM-Suite connects to as a WebSocket
client) and the forward connections open on /ws/bot, for the operator to see."""

from django.conf import settings
from django.db import models

from accounts.models import User


class ReverseEndpoint(models.Model):
    bot = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reverse_endpoints"
    )
    url = models.CharField(max_length=500, help_text="ws:// or wss:// address of the bot backend.")
    # Sent as "Authorization: Bearer"; it is the bot backend's secret, so it is kept to be sent, never shown.
    access_token = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Why the last connection attempt failed ("" once one succeeds): what an operator looks at first.
    last_error = models.CharField(max_length=500, blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The wire form the backend speaks (bots.dialects): sandbox, kotori, onebot11.
    dialect = models.CharField(max_length=16, default="sandbox")
    # The last frame of the backend's that IM-Suite could not use (a complaint, a frame without an
    # action), never answered: what the operator reads when the two sides disagree.
    last_complaint = models.CharField(max_length=500, blank=True, editable=False)
    last_complaint_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Since when the bridge is connected (null while it is not), and when it last said it still is
    # (every few seconds): a bridge process killed without closing leaves connected_at behind, and
    # its silence tells (bots.selectors.endpoint_connected).
    connected_at = models.DateTimeField(null=True, blank=True, editable=False)
    alive_at = models.DateTimeField(null=True, blank=True, editable=False)

    # The cursor of the last event the backend has acknowledged (bots.stream): a new connection
    # replays from here. Null before its first connection: it starts with live events.
    last_cursor = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bot", "url"], name="reverse_endpoint_unique")]

    def __str__(self) -> str:
        return f"{self.bot} → {self.url}"


class BotConnection(models.Model):
    """A forward connection (/ws/bot), written when it opens and removed when it closes. A process
    killed meanwhile leaves its rows behind: a row is open only while its presence lease
    (accounts.presence, renewed by the watchdog) lives, and the bot's next connection removes the
    rows whose lease is gone."""

    bot = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bot_connections"
    )
    connection = models.CharField(max_length=64, unique=True, help_text="Its presence lease's name.")
    dialect = models.CharField(max_length=16)
    address = models.CharField(max_length=100, blank=True, help_text="Where it came from (host:port).")
    opened_at = models.DateTimeField(auto_now_add=True)
    # The last frame of the bot's that IM-Suite could not use (never answered), as on ReverseEndpoint.
    last_complaint = models.CharField(max_length=500, blank=True)
    last_complaint_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.bot} ← {self.address or self.connection}"


class Bot(User):
    """A bot as the admin shows it: its forward connections and reverse endpoints together."""

    class Meta:
        proxy = True


class BotEvent(models.Model):
    """A domain event other than a message change, kept for a bot that was in its audience, under
    the seq it was given (bots.stream): the part of a bot's event stream that cannot be read back
    from the messages. Rows older than BOT_EVENT_RETENTION_SECONDS are removed by `runtimers`."""

    bot = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    name = models.CharField(max_length=64)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bot", "seq"], name="bot_event_unique")]
        indexes = [models.Index(fields=["seq"], name="bot_event_seq")]

    def __str__(self) -> str:
        return f"{self.name} for bot {self.bot_id} at {self.seq}"


class BotStreamMark(models.Model):
    """The seq counter as it stood at a moment, noted by `runtimers`: the newest mark older than
    BOT_EVENT_RETENTION_SECONDS is the retention window's floor (bots.stream)."""

    at = models.DateTimeField(db_index=True)
    seq = models.BigIntegerField()

    def __str__(self) -> str:
        return f"seq {self.seq} at {self.at:%Y-%m-%d %H:%M:%S}"
