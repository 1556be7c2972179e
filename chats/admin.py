from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from imsuite.admin_services import ViewOnlyAdminMixin, run_for_each, set_or_not_filter

from . import services
from .models import Chat, ChatMember, Message

DeletedFilter = set_or_not_filter("deleted_at", "deleted", "Deleted", "Not deleted")


@admin.register(Message)
class MessageAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "chat",
        "sender",
        "message_type",
        "short_content",
        "created_at",
        "is_edited",
        "deleted_at",
    ]
    list_filter = ["message_type", DeletedFilter, "created_at"]
    search_fields = ["content", "sender__username", "=chat__id"]
    search_help_text = "Content, sender's username, or a chat id."
    list_select_related = ["chat", "sender"]
    show_full_result_count = False
    actions = ["recall"]

    @admin.display(description="content")
    def short_content(self, message: Message) -> str:
        return message.content[:80]

    @admin.action(description="Recall selected messages (erases their content)")
    def recall(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        run_for_each(
            request,
            queryset,
            lambda m: services.message_delete(actor=request.user, message_id=m.pk),
            "Recalled",
        )


class ChatMemberInline(ViewOnlyAdminMixin, admin.TabularInline):
    model = ChatMember
    fields = ["user", "role", "level", "card", "joined_at", "last_read_message_id", "notify", "notify_until"]
    readonly_fields = fields
    extra = 0


@admin.register(Chat)
class ChatAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "type", "created_at", "last_message_at"]
    list_filter = ["type"]
    search_fields = ["=id", "members__user__username"]
    inlines = [ChatMemberInline]
