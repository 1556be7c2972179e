from django.contrib import admin

from imsuite.admin_services import ViewOnlyAdminMixin

from .models import Call


@admin.register(Call)
class CallAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["call_id", "caller", "callee", "call_type", "state", "outcome", "created_at", "duration"]
    list_filter = ["state", "outcome", "call_type", "created_at"]
    search_fields = ["call_id", "caller__username", "callee__username"]
    list_select_related = ["caller", "callee"]
    date_hierarchy = "created_at"
