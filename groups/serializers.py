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

from .services import MAX_MUTE_SECONDS

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
