"""Output shapes of the chat REST endpoints (inputs are in chats/schemas.py)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.serializers import UserRef
from imsuite.api_fields import InputSerializer, StrictCharField, StrictIntegerField
from media.serializers import AttachmentOut
from previews.serializers import LinkPreviewOut

from .models import Notify


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "enum": ["all"]}]})
class MentionField(serializers.JSONField):
    """A mentioned user's id, or "all"."""


class ReactionSummaryOut(serializers.Serializer):
    emoji = serializers.CharField()
    count = serializers.IntegerField()
    user_ids = serializers.ListField(child=serializers.IntegerField(), help_text="The first 5 who reacted.")
    me = serializers.BooleanField(
        required=False, help_text="Whether you reacted: in pages read for you, not in live events."
    )


class ReactionsOut(serializers.Serializer):
    """A message's reactions as summarised (the answer to a change)."""

    message_id = serializers.IntegerField()
    chat_id = serializers.IntegerField()
    reactions = ReactionSummaryOut(many=True)


class ReactionUsersOut(serializers.Serializer):
    emoji = serializers.CharField()
    count = serializers.IntegerField()
    me = serializers.BooleanField()
    users = UserRef(many=True, help_text="Everyone who reacted with it, in order.")


class ReactionListOut(ReactionsOut):
    """A message's reactions with everyone who reacted."""

    reactions = ReactionUsersOut(many=True)


class ForwardedFrom(serializers.Serializer):
    """Where a forwarded message came from, as it was when forwarded (our addition)."""

    message_id = serializers.IntegerField()
    chat_id = serializers.IntegerField()
    sender_id = serializers.IntegerField(allow_null=True)
    sender_name = serializers.CharField()
    sent_at = serializers.DateTimeField()


class MessageOut(serializers.Serializer):
    id = serializers.IntegerField()
    chat_id = serializers.IntegerField()
    sender_id = serializers.IntegerField(allow_null=True)
    content = serializers.CharField(help_text="Empty for a deleted message.")
    message_type = serializers.ChoiceField(choices=["text", "image", "file", "video", "voice", "system"])
    reply_to_id = serializers.IntegerField(allow_null=True)
    client_msg_id = serializers.CharField(allow_null=True, help_text="Only on one's own messages.")
    created_at = serializers.DateTimeField()
    is_edited = serializers.BooleanField()
    updated_at = serializers.DateTimeField(allow_null=True)
    is_deleted = serializers.BooleanField()
    deleted_by = serializers.IntegerField(allow_null=True)
    deleted_at = serializers.DateTimeField(allow_null=True)
    attachments = AttachmentOut(many=True, help_text="Uploaded files, with signed links; [] when none.")
    mentions = serializers.ListField(
        child=MentionField(),
        help_text='Who the message mentions: user ids, sorted, with "all" first for @all; [] when none.',
    )
    reactions = ReactionSummaryOut(
        many=True, required=False, help_text="Only when it has any (chats.reactions); never on a deleted one."
    )
    forwarded_from = ForwardedFrom(
        required=False, help_text="(addition) The original of a forwarded message; absent when not forwarded."
    )
    link_previews = LinkPreviewOut(
        many=True,
        required=False,
        help_text="Previews of the pages the text links to, fetched after the send (event message.preview);"
        " absent when none.",
    )


class ChatOut(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=["private", "group"])
    title = serializers.CharField(allow_null=True)
    member_count = serializers.IntegerField()
    unread_count = serializers.IntegerField()
    unread_mention_count = serializers.IntegerField(
        help_text="Unread messages that mention you (or @all), sent since you joined."
    )
    last_read_message_id = serializers.IntegerField()
    last_message = MessageOut(allow_null=True)
    last_activity_at = serializers.DateTimeField()
    peer = UserRef(allow_null=True, help_text="A private chat's other person; null in groups.")
    peer_last_read_message_id = serializers.IntegerField(
        allow_null=True, help_text="How far a private chat's other person has read; null in groups."
    )
    last_delivered_message_id = serializers.IntegerField(
        help_text="How far your devices acknowledged receiving the chat (message.delivered; private chats)."
    )
    peer_last_delivered_message_id = serializers.IntegerField(
        allow_null=True, help_text="How far a private chat's other person has received it; null in groups."
    )
    notify = serializers.ChoiceField(
        choices=Notify.values,
        help_text="Your notification setting as it holds now: all, mentions or muted (all once its"
        " until has passed).",
    )
    notify_until = serializers.DateTimeField(
        allow_null=True, help_text="When notify goes back to all; null: until changed (always with all)."
    )


class NotifyOut(serializers.Serializer):
    chat_id = serializers.IntegerField()
    notify = serializers.ChoiceField(choices=Notify.values)
    until = serializers.DateTimeField(allow_null=True)


class HistoryPage(serializers.Serializer):
    results = MessageOut(many=True)
    next_before = serializers.IntegerField(
        allow_null=True, help_text="Pass as ?before= for the next, older page; null at the start of the chat."
    )


class HistoryQuery(InputSerializer):
    before = StrictIntegerField(required=False, min_value=1)
    after = StrictIntegerField(required=False, min_value=1)
    around = StrictIntegerField(required=False, min_value=1)
    limit = StrictIntegerField(required=False, min_value=1, max_value=100, default=50)


class HistoryWindow(HistoryPage):
    """A page opened with ?around= or ?after=: cursors both ways."""

    next_after = serializers.IntegerField(
        allow_null=True,
        required=False,  # only in ?around= and ?after= answers
        help_text="Pass as ?after= for the next, newer page; null when nothing newer is left.",
    )


class SearchQuery(InputSerializer):
    q = StrictCharField(
        max_length=100, help_text="Terms separated by spaces, all required (1-100 characters)."
    )
    chat_id = StrictIntegerField(required=False, min_value=1)
    sender_id = StrictIntegerField(required=False, min_value=1)
    before = StrictIntegerField(required=False, min_value=1)
    after = StrictIntegerField(required=False, min_value=1)
    limit = StrictIntegerField(required=False, min_value=1, max_value=50, default=20)


class Highlight(serializers.Serializer):
    start = serializers.IntegerField()
    end = serializers.IntegerField()


class Snippet(serializers.Serializer):
    text = serializers.CharField()
    highlights = Highlight(
        many=True, help_text="The matches in `text`, in Unicode code points, end exclusive."
    )


class SearchChatRef(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=["private", "group"])
    title = serializers.CharField(allow_null=True)


class SearchResult(MessageOut):
    chat = SearchChatRef()
    snippet = Snippet()


class SearchPage(serializers.Serializer):
    results = SearchResult(many=True)
    next_before = serializers.IntegerField(
        allow_null=True,
        help_text="Pass as ?before= for the next page; null when nothing older is left to search.",
    )


class PrivateChatInput(InputSerializer):
    user_id = StrictIntegerField(min_value=1)


class ReadOut(serializers.Serializer):
    chat_id = serializers.IntegerField()
    last_read_message_id = serializers.IntegerField()
    unread_count = serializers.IntegerField()
    unread_mention_count = serializers.IntegerField()


class ForwardResult(serializers.Serializer):
    chat_id = serializers.IntegerField()
    message = MessageOut(allow_null=True, help_text="The new message in this chat; null when refused.")
    created = serializers.BooleanField(help_text="false: a retry (same client_msg_id) or refused.")
    error = serializers.DictField(
        allow_null=True,
        help_text="The refusal for this chat ({error_code, message, details}); null when sent.",
    )


class ForwardOut(serializers.Serializer):
    results = ForwardResult(many=True)


class PinOut(serializers.Serializer):
    message = MessageOut()
    pinned_by = UserRef(allow_null=True)
    pinned_at = serializers.DateTimeField()
