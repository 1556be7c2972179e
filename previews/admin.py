from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from imsuite.admin_services import run_for_each

from . import services
from .models import LinkPreview


@admin.register(LinkPreview)
class LinkPreviewAdmin(admin.ModelAdmin):
    """The fetched previews (the per-URL cache). A moderator may look, and clear one (through the
    service, audited): it leaves every message that shows it, live, and is never fetched again."""

    list_display = ["url", "status", "title", "site_name", "has_image", "message_count", "fetched_at"]
    list_filter = ["status"]
    search_fields = ["url", "title"]
    readonly_fields = [f.name for f in LinkPreview._meta.fields]
    actions = ["clear"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[LinkPreview]:
        return super().get_queryset(request).annotate(message_count=Count("uses"))

    @admin.display(description="messages", ordering="message_count")
    def message_count(self, obj: LinkPreview) -> int:
        return obj.message_count  # type: ignore[attr-defined]  (annotated)

    @admin.display(description="image", boolean=True)
    def has_image(self, obj: LinkPreview) -> bool:
        return bool(obj.image_name)

    @admin.action(description="Clear: remove from its messages and never preview this URL again")
    def clear(self, request: HttpRequest, queryset: QuerySet[LinkPreview]) -> None:
        run_for_each(
            request,
            queryset,
            lambda p: services.preview_clear(actor=request.user, preview_id=p.pk),
            "Cleared",
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LinkPreview | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LinkPreview | None = None) -> bool:
        return False  # deleting the row would leave messages showing it: clearing is the way
