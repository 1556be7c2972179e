"""Input schemas and output shapes of the push REST API."""

from rest_framework import serializers

from imsuite.api_fields import InputSerializer, StrictBooleanField, StrictCharField

from .models import PushSubscription


class KeysInput(InputSerializer):
    p256dh = StrictCharField(max_length=200, help_text="The browser's public key (PushSubscription.getKey).")
    auth = StrictCharField(max_length=100, help_text="The browser's auth secret.")


class SubscriptionInput(InputSerializer):
    kind = serializers.ChoiceField(choices=PushSubscription.Kind.values)
    endpoint = StrictCharField(max_length=1000, help_text="http(s) URL the server POSTs pushes to.")
    keys = KeysInput(required=False, help_text="Required for webpush.")
    label = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
    previews = StrictBooleanField(
        required=False, default=True, help_text="Whether pushes to this device carry the message text."
    )


class SubscriptionOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=PushSubscription.Kind.values)
    endpoint = serializers.CharField()
    label = serializers.CharField()
    previews = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    last_success_at = serializers.DateTimeField(allow_null=True)
    failures = serializers.IntegerField(help_text="Failed pushes in a row; retried with backoff.")
    last_error = serializers.CharField(help_text='Why the last push failed; "" after a success.')


def subscription_out(subscription: PushSubscription) -> dict:
    return SubscriptionOut(subscription).data
