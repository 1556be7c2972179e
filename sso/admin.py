from django.contrib import admin

from .models import ExternalIdentity


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(admin.ModelAdmin):
    """Read only: a link is made by signing in with the provider and ends with its account (or by
    deactivating that account, which the provider's sign-in then refuses)."""

    list_display = ["user", "issuer", "subject", "created_at", "last_used_at"]
    search_fields = ["user__username", "subject"]
    list_filter = ["issuer"]
    readonly_fields = list_display

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
