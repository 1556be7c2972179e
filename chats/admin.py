from django.contrib import admin
from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest

from imsuite.admin_services import ViewOnlyAdminMixin, run_for_each, set_or_not_filter

from . import search, services
from .models import Chat, ChatMember, Message, MessageEdit, Pin, Reaction

DeletedFilter = set_or_not_filter("deleted_at", "deleted", "Deleted", "Not deleted")


class MessageEditInline(ViewOnlyAdminMixin, admin.TabularInline):
    """The message's earlier texts (chats.edit_history), oldest first; gone with a recall."""

    model = MessageEdit
    fields = ["edited_at", "editor", "content"]


class ReactionInline(ViewOnlyAdminMixin, admin.TabularInline):
    """Who reacted with what, read-only (issue 22): a reaction is its person's to change."""

    model = Reaction
    fields = ["emoji", "user", "created_at"]
    readonly_fields = fields
    ordering = ["id"]
    extra = 0


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
    search_fields = ["content", "sender__username", "=chat__id"]  # named for the search box; see below
    search_help_text = "Content, sender's username, or a chat id (every word must match one of them)."
    list_select_related = ["chat", "sender"]
    show_full_result_count = False
    actions = ["recall"]
    inlines = [MessageEditInline, ReactionInline]
    readonly_fields = ["forwarded", "pinned"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Message], search_term: str
    ) -> tuple[QuerySet[Message], bool]:
        """Django's search, with the content matched through the message search index (chats.search):
        Django's icontains is UPPER(content) LIKE, which no index serves."""
        table = connection.ops.quote_name(Message._meta.db_table)
        for term in search.query_terms(search_term):
            condition, params = search.content_condition([term], table)
            content = RawSQL(condition, params, output_field=BooleanField())  # noqa: S611  (terms are parameters)
            match = Q(content) | Q(sender__username__icontains=term)
            if term.isascii() and term.isdigit() and len(term) <= 18:
                match |= Q(chat_id=int(term))
            queryset = queryset.filter(match)
        return queryset, False

    @admin.display(description="content")
    def short_content(self, message: Message) -> str:
        return message.content[:80]

    @admin.display(description="forwarded from")
    def forwarded(self, message: Message) -> str:
        """The original as the forward shows it (chats.forwarding), or "-"."""
        origin = message.forwarded_from
        if not origin:
            return "-"
        return (
            f"message {origin['message_id']} of chat {origin['chat_id']} by {origin['sender_name']}"
            f" (user {origin['sender_id']}), sent {origin['sent_at']}"
        )

    @admin.display(description="pinned")
    def pinned(self, message: Message) -> str:
        pin = Pin.objects.filter(message=message).select_related("pinned_by").first()
        return "-" if pin is None else f"pinned by {pin.pinned_by} at {pin.pinned_at:%Y-%m-%d %H:%M:%S} UTC"

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
    fields = [
        "user",
        "role",
        "level",
        "card",
        "joined_at",
        "last_read_message_id",
        "last_delivered_message_id",
        "notify",
        "notify_until",
    ]
    readonly_fields = fields
    extra = 0


class PinInline(ViewOnlyAdminMixin, admin.TabularInline):
    """The chat's pins, newest first; unpinning is the members' (and a recall's) to do."""

    model = Pin
    fk_name = "chat"
    fields = ["message", "pinned_by", "pinned_at"]
    readonly_fields = fields
    ordering = ["-pinned_at"]
    extra = 0


@admin.register(Chat)
class ChatAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "type", "created_at", "last_message_at"]
    list_filter = ["type"]
    search_fields = ["=id", "members__user__username"]
    inlines = [ChatMemberInline, PinInline]
