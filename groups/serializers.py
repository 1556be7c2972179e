"""Input schemas (shared by REST and the bot actions) and output shapes for groups."""

from rest_framework import serializers

from accounts.serializers import UserRef
from imsuite.api_fields import (
    InputSerializer,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictURLField,
)

from .invites import MAX_INVITE_SECONDS, MAX_INVITE_USES
from .services import MAX_BAN_SECONDS, MAX_MUTE_SECONDS

ID = {"min_value": 1}


class GroupCreateInput(InputSerializer):
    name = StrictCharField(max_length=64)
    avatar_url = StrictURLField(max_length=500, required=False, allow_blank=True, default="")
    member_ids = serializers.ListField(
        child=StrictIntegerField(**ID), required=False, default=list, max_length=500
    )


class GroupUpdateInput(InputSerializer):
    name = StrictCharField(max_length=64, required=False)
    avatar_url = StrictURLField(max_length=500, required=False, allow_blank=True)
    members_mention_all = StrictBooleanField(required=False)


class MemberAddInput(InputSerializer):
    user_id = StrictIntegerField(**ID)


class MemberUpdateInput(InputSerializer):
    role = serializers.ChoiceField(choices=["admin", "member"], required=False)
    card = StrictCharField(max_length=64, required=False, allow_blank=True, trim_whitespace=False)
    level = StrictCharField(max_length=32, required=False)


class BanInput(InputSerializer):
    user_id = StrictIntegerField(required=False, allow_null=True, **ID)
    duration = StrictIntegerField(min_value=0, max_value=MAX_MUTE_SECONDS)


class NoticeInput(InputSerializer):
    content = StrictCharField(max_length=4000)
    image = StrictURLField(max_length=500, required=False, allow_blank=True, allow_null=True)


class JoinRequestInput(InputSerializer):
    comment = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class GroupBanInput(InputSerializer):
    user_id = StrictIntegerField(**ID)
    duration = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_BAN_SECONDS,
        help_text="Seconds; left out or null: until lifted.",
    )
    reason = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class TransferInput(InputSerializer):
    user_id = StrictIntegerField(help_text="The member who becomes owner.", **ID)


class InviteCreateInput(InputSerializer):
    needs_approval = StrictBooleanField(required=False, default=False)
    expires_in = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_INVITE_SECONDS,
        help_text="Seconds the link works; left out or null: until revoked.",
    )
    max_uses = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_INVITE_USES,
        help_text="Joins (or requests) the link allows; left out or null: any number.",
    )


class GroupOut(serializers.Serializer):
    id = serializers.IntegerField(help_text="The group's id is its chat's id.")
    name = serializers.CharField()
    avatar_url = serializers.CharField(allow_blank=True)
    owner_id = serializers.IntegerField(allow_null=True)
    members_mention_all = serializers.BooleanField(help_text="Whether plain members may use @all.")
    member_count = serializers.IntegerField()
    my_role = serializers.ChoiceField(choices=["owner", "admin", "member"], allow_null=True)
    muted_until = serializers.DateTimeField(allow_null=True, help_text="Set while the whole group is muted.")
    created_at = serializers.DateTimeField()
    dissolved_at = serializers.DateTimeField(allow_null=True)


class MemberOut(serializers.Serializer):
    user_id = serializers.IntegerField()
    user = UserRef()
    username = serializers.CharField(help_text="What `@username` mentions.")
    role = serializers.ChoiceField(choices=["owner", "admin", "member"])
    level = serializers.CharField()
    card = serializers.CharField(allow_blank=True)
    title = serializers.CharField(help_text="The card, or the nickname when there is no card.")
    muted_until = serializers.DateTimeField(allow_null=True)
    joined_at = serializers.DateTimeField()


class JoinRequestOut(serializers.Serializer):
    id = serializers.IntegerField()
    group_id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    user = UserRef()
    operator_id = serializers.IntegerField(help_text="The inviter, or the user themself for a request.")
    comment = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=["pending", "approved", "rejected"])
    created_at = serializers.DateTimeField()
    decided_by = serializers.IntegerField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)


class NoticeOut(serializers.Serializer):
    id = serializers.IntegerField()
    group_id = serializers.IntegerField()
    author_id = serializers.IntegerField(allow_null=True)
    content = serializers.CharField()
    image = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class BanOut(serializers.Serializer):
    group_id = serializers.IntegerField()
    user_id = serializers.IntegerField(allow_null=True)
    duration = serializers.IntegerField()
    until = serializers.DateTimeField(allow_null=True)


class GroupBanOut(serializers.Serializer):
    group_id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    user = UserRef()
    operator_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    until = serializers.DateTimeField(allow_null=True, help_text="null: until lifted.")
    created_at = serializers.DateTimeField()


class InviteOut(serializers.Serializer):
    id = serializers.IntegerField()
    group_id = serializers.IntegerField()
    token = serializers.CharField(help_text="Open in the web client as /#/invite/<token>.")
    creator_id = serializers.IntegerField(allow_null=True)
    needs_approval = serializers.BooleanField()
    expires_at = serializers.DateTimeField(allow_null=True)
    max_uses = serializers.IntegerField(allow_null=True)
    uses = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class InvitePreviewOut(serializers.Serializer):
    group_id = serializers.IntegerField()
    name = serializers.CharField()
    avatar_url = serializers.CharField(allow_blank=True)
    member_count = serializers.IntegerField()
    needs_approval = serializers.BooleanField(help_text="Joining opens a join request.")
    expires_at = serializers.DateTimeField(allow_null=True)
    is_member = serializers.BooleanField()
    requested = serializers.BooleanField(help_text="The viewer has a pending join request.")
