"""REST authentication by a bot token, for the few endpoints a bot backend calls over HTTP
(uploading a file it then sends, refreshing an attachment's links). A bot authenticates as on
/ws/bot: `Authorization: Bearer <bot token>`. A bot token is told from an access token (a JWT) by
its prefix, so one header form serves both and the JWT authentication after it is untouched."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from .models import User
from .services import BOT_TOKEN_PREFIX, bot_authenticate
from .sessions import SessionJWTAuthentication


class BotTokenAuthentication(BaseAuthentication):
    """`Bearer imb_...`: the active bot whose live token it is; anything else is not ours to judge."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != self.keyword:
            return None
        token = parts[1].decode("latin-1")
        if not token.startswith(BOT_TOKEN_PREFIX):
            return None  # an access token: the JWT authentication's
        bot = bot_authenticate(token)
        if bot is None:
            raise AuthenticationFailed(
                "The bot token is unknown, revoked or its bot deactivated.", "token_invalid"
            )
        return bot, None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


# authentication_classes of the endpoints a bot backend may call: a bot token, or a person's access token.
BOT_OR_PERSON = [BotTokenAuthentication, SessionJWTAuthentication]


class BotTokenScheme(OpenApiAuthenticationExtension):
    """The schema's name and description of the bot token scheme."""

    target_class = BotTokenAuthentication
    name = "botToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A bot's token (imb_...), as on /ws/bot.",
        }
