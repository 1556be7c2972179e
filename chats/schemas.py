"""Input schemas for chat operations, shared by the REST views and the WebSocket consumer."""

from rest_framework import serializers

from imsuite.api_fields import (
    InputSerializer,
    StrictBooleanField,
    StrictCharField,
    StrictDateTimeField,
    StrictIntegerField,
)

from .models import Message, Notify

ID = {"min_value": 1}


class MessagePostInput(InputSerializer):
    """A new message (REST: the chat comes from the URL)."""

    content = StrictCharField(
        trim_whitespace=False,
        allow_blank=True,
        required=False,
        default="",
        help_text="The text; with attachment_ids an optional caption. An image or file message without"
        " attachments carries its http(s) URL here.",
    )
    message_type = serializers.ChoiceField(
        choices=[t for t in Message.Type.values if t != Message.Type.SYSTEM],
        default=Message.Type.TEXT,
        help_text="With attachment_ids it is decided by the files (docs/protocol.md).",
    )
    attachment_ids = serializers.ListField(
        child=StrictIntegerField(**ID),
        required=False,
        default=None,
        allow_empty=False,
        help_text="Files uploaded with POST /api/uploads, each used once (1 to MESSAGE_MAX_ATTACHMENTS).",
    )
    reply_to_id = StrictIntegerField(required=False, allow_null=True, **ID)
    client_msg_id = StrictCharField(required=False, allow_null=True, max_length=64, min_length=1)


class MessageSendInput(MessagePostInput):
    chat_id = StrictIntegerField(**ID)


class MessageEditInput(InputSerializer):
    content = StrictCharField(trim_whitespace=False, allow_blank=True)


class MessageEditEvent(MessageEditInput):
    message_id = StrictIntegerField(**ID)


class MessageRef(InputSerializer):
    message_id = StrictIntegerField(**ID)


class DeliveredInput(InputSerializer):
    up_to_message_id = StrictIntegerField(**ID)


class DeliveredEvent(DeliveredInput):
    chat_id = StrictIntegerField(**ID)


class ReactionInput(InputSerializer):
    emoji = StrictCharField(max_length=32, trim_whitespace=False, help_text="One emoji (chats.reactions).")


class ReactionEvent(ReactionInput):
    message_id = StrictIntegerField(**ID)
    add = StrictBooleanField(help_text="true adds the emoji, false removes it.")


class TypingInput(InputSerializer):
    chat_id = StrictIntegerField(**ID)
    is_typing = StrictBooleanField()


class NotifyInput(InputSerializer):
    """A member's notification setting of one chat (REST: the chat comes from the URL)."""

    notify = serializers.ChoiceField(
        choices=Notify.values, help_text="all messages, only those that mention you, or none."
    )
    until = StrictDateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="With mentions or muted: the setting ends then (ISO 8601 with its offset, in the"
        " future); null or absent: until changed. Not with all.",
    )


class NotifyEvent(NotifyInput):
    chat_id = StrictIntegerField(**ID)


class PresenceInput(InputSerializer):
    is_online = StrictBooleanField()


class PingInput(InputSerializer):
    timestamp = serializers.JSONField(required=False)


class SyncInput(InputSerializer):
    since_seq = StrictIntegerField(min_value=0)


class CallOfferInput(InputSerializer):
    to_user = StrictIntegerField(**ID)
    call_type = serializers.ChoiceField(choices=["audio", "video"])
    sdp = StrictCharField(trim_whitespace=False)
    ice_candidates = serializers.ListField(child=serializers.DictField(), required=False, default=list)


class CallAnswerInput(InputSerializer):
    call_id = StrictCharField(max_length=40)
    sdp = StrictCharField(trim_whitespace=False)
    ice_candidates = serializers.ListField(child=serializers.DictField(), required=False, default=list)


class CallIceInput(InputSerializer):
    call_id = StrictCharField(max_length=40)
    ice_candidate = serializers.DictField()


class CallEndInput(InputSerializer):
    call_id = StrictCharField(max_length=40)
    reason = StrictCharField(max_length=32, required=False, default="user_hangup")


class DraftInput(InputSerializer):
    """A draft (REST: the chat comes from the URL). Blank text clears it."""

    text = StrictCharField(
        trim_whitespace=False, allow_blank=True, help_text="At most MESSAGE_MAX_LENGTH characters."
    )
    reply_to_id = StrictIntegerField(required=False, allow_null=True, default=None, **ID)


class DraftEvent(DraftInput):
    chat_id = StrictIntegerField(**ID)


class ForwardInput(InputSerializer):
    """A forward (REST: the message comes from the URL)."""

    chat_ids = serializers.ListField(
        child=StrictIntegerField(**ID),
        allow_empty=False,
        help_text="The chats to forward to, each once (1 to FORWARD_MAX_CHATS).",
    )
    client_msg_id = StrictCharField(
        required=False,
        allow_null=True,
        max_length=44,
        min_length=1,
        help_text='Makes the forward safe to retry: each new message is keyed "<client_msg_id>/<chat_id>".',
    )


class ForwardEvent(ForwardInput):
    message_id = StrictIntegerField(**ID)
