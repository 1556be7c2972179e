from urllib.parse import urlsplit

from django.contrib import admin
from django.http import HttpRequest

from imsuite.admin_services import DeleteThroughServiceMixin

from . import services
from .models import PushSubscription


@admin.register(PushSubscription)
class PushSubscriptionAdmin(DeleteThroughServiceMixin, admin.ModelAdmin):
    """The devices that receive pushes, and how their endpoints fare. Devices register themselves
    (REST); a moderator may only look, or remove one (through the service, audited)."""

    list_display = [
        "user",
        "kind",
        "endpoint_host",
        "label",
        "failures",
        "retry_at",
        "last_error",
        "last_success_at",
    ]
    list_select_related = ["user"]
    list_filter = ["kind"]
    search_fields = ["user__username", "endpoint", "label"]
    readonly_fields = [f.name for f in PushSubscription._meta.fields]

    @admin.display(description="endpoint host")
    def endpoint_host(self, obj: PushSubscription) -> str:
        return urlsplit(obj.endpoint).hostname or ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PushSubscription | None = None) -> bool:
        return False

    def delete_one(self, request: HttpRequest, obj: PushSubscription) -> None:
        services.subscription_remove(actor=request.user, subscription_id=obj.pk)
