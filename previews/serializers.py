"""Output shape of a link preview (REST, and the docs of the WebSocket's message.preview)."""

from rest_framework import serializers


class LinkPreviewOut(serializers.Serializer):
    url = serializers.CharField(help_text="The link as written in the message.")
    title = serializers.CharField(help_text="og:title, twitter:title or the page's <title>; may be empty.")
    description = serializers.CharField(
        help_text="og:description, twitter:description or the meta description."
    )
    site_name = serializers.CharField(help_text="og:site_name; may be empty (show the link's host).")
    image_url = serializers.CharField(
        allow_null=True,
        help_text="A thumbnail of the page's image, served by this server (/media/previews/...);"
        " null when none.",
    )
