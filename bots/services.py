"""Changes to bots' reverse endpoints: by the bot's owner, or a moderator."""

from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from accounts.access import access_own_bot, is_moderator
from accounts.models import User
from imsuite.errors import DomainError, ErrorCode, not_found, validation_error

from .models import ReverseEndpoint

MAX_ENDPOINTS_PER_BOT = 5


def access_bot(actor: User, bot_id: int) -> User:
    if is_moderator(actor):
        bot = User.objects.filter(pk=bot_id, is_bot=True).first()
        if bot is None:
            raise not_found("Bot")
        return bot
    return access_own_bot(actor, bot_id)


def _check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise validation_error("url", "scheme", "A reverse endpoint is a ws:// or wss:// URL.")
    return url.strip()


def reverse_endpoint_create(*, actor: User, bot_id: int, url: str, access_token: str = "") -> ReverseEndpoint:
    """Register a bot backend that `runbots` connects to (within a few seconds, without a restart)."""
    bot = access_bot(actor, bot_id)
    url = _check_url(url)
    try:
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=bot.pk).first()
            if ReverseEndpoint.objects.filter(bot=bot).count() >= MAX_ENDPOINTS_PER_BOT:
                raise DomainError(
                    ErrorCode.CONFLICT,
                    f"A bot has at most {MAX_ENDPOINTS_PER_BOT} reverse endpoints.",
                    {"reason": "endpoint_limit", "limit": MAX_ENDPOINTS_PER_BOT},
                )
            return ReverseEndpoint.objects.create(bot=bot, url=url, access_token=access_token or "")
    except IntegrityError as exc:
        raise DomainError(
            ErrorCode.CONFLICT, "This endpoint is registered already.", {"reason": "duplicate"}
        ) from exc


def reverse_endpoint_delete(*, actor: User, bot_id: int, endpoint_id: int) -> None:
    bot = access_bot(actor, bot_id)
    deleted, _ = ReverseEndpoint.objects.filter(pk=endpoint_id, bot=bot).delete()
    if not deleted:
        raise not_found("Reverse endpoint")
