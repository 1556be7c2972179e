"""Input schemas and output shapes of reports."""

from rest_framework import serializers

from groups.services import MAX_MUTE_SECONDS
from imsuite.api_fields import InputSerializer, StrictCharField, StrictIntegerField

from .models import Report
from .services import MAX_COMMENT

# The actions a group's owner and admins have; deactivating an account is for moderators (admin).
GROUP_ACTIONS = ["recall", "mute", "kick", "dismiss"]


class ReportInput(InputSerializer):
    kind = serializers.ChoiceField(choices=Report.Kind.choices)
    target_id = StrictIntegerField(min_value=1, help_text="The message, user or group id, by kind.")
    reason = serializers.ChoiceField(choices=Report.Reason.choices)
    comment = StrictCharField(max_length=MAX_COMMENT, required=False, allow_blank=True, default="")


class ResolveInput(InputSerializer):
    action = serializers.ChoiceField(choices=GROUP_ACTIONS)
    duration = StrictIntegerField(
        min_value=1, max_value=MAX_MUTE_SECONDS, required=False, help_text="Seconds; required for mute."
    )


class ReportOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Report.Kind.choices)
    target_id = serializers.IntegerField()
    group_id = serializers.IntegerField(allow_null=True, help_text="The group it happened in, if any.")
    reason = serializers.ChoiceField(choices=Report.Reason.choices)
    comment = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=Report.Status.choices)
    outcome = serializers.ChoiceField(choices=Report.Outcome.choices, allow_null=True)
    evidence = serializers.DictField(help_text="What was reported, as it was when reported.")
    created_at = serializers.DateTimeField()
    handled_at = serializers.DateTimeField(allow_null=True)
