from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from imsuite.admin_services import ViewOnlyAdminMixin, run_for_each, set_or_not_filter

from . import services
from .models import Attachment
from .signing import media_path

AttachedFilter = set_or_not_filter("attached_at", "attached", "Attached to a message", "Not attached")


@admin.register(Attachment)
class AttachmentAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Uploaded files, read-only (storage names are never edited); files go through the service."""

    list_display = [
        "id",
        "uploader",
        "kind",
        "name",
        "human_size",
        "mime",
        "chat",
        "message",
        "created_at",
        "attached",
        "open_link",
    ]
    list_filter = ["kind", AttachedFilter, "created_at"]
    search_fields = ["uploader__username", "name", "mime"]
    search_help_text = "Uploader's username, file name or MIME type."
    list_select_related = ["uploader", "chat", "message"]
    show_full_result_count = False
    readonly_fields = ["open_link", "human_size"]
    actions = ["remove_files"]

    @admin.display(description="size", ordering="size")
    def human_size(self, attachment: Attachment) -> str:
        return filesizeformat(attachment.size)

    @admin.display(description="attached", boolean=True, ordering="attached_at")
    def attached(self, attachment: Attachment) -> bool:
        return attachment.attached_at is not None

    @admin.display(description="file")
    def open_link(self, attachment: Attachment) -> str:
        """A signed link, as members get: it opens the file with the headers the app serves it with."""
        return format_html(
            '<a href="{}" target="_blank" rel="noopener noreferrer">open</a>',
            media_path(attachment.pk, "file"),
        )

    @admin.action(description="Remove the files of selected attachments (also from their messages)")
    def remove_files(self, request: HttpRequest, queryset: QuerySet[Attachment]) -> None:
        run_for_each(
            request,
            queryset,
            lambda a: services.attachment_remove(actor=request.user, attachment_id=a.pk),
            "Removed",
        )
