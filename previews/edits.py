"""The hook chats.services.message_edit calls: previews follow the edited text."""

from django.conf import settings

from chats.models import Message

from .links import message_urls
from .models import PreviewRefresh


def message_edited(message: Message) -> None:
    """Inside the edit's transaction, before the row is saved: the previews of links the new text
    no longer has go with the edit (its event carries what is left), and a text with links is
    looked at again by the next round (previews.services), which fetches what is new."""
    urls = message_urls(message.content)
    if message.link_previews:
        message.link_previews = [view for view in message.link_previews if view["url"] in urls] or None
    if urls and message.message_type == Message.Type.TEXT and settings.IMSUITE["LINK_PREVIEWS_ENABLED"]:
        PreviewRefresh.objects.get_or_create(message_id=message.pk)
