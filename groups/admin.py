from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from chats.models import ChatMember
from imsuite.admin_services import ViewOnlyAdminMixin

from .models import Group, JoinRequest, Mute, Notice


@admin.register(Group)
class GroupAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["chat_id", "name", "owner", "member_count", "created_at", "dissolved_at"]
    search_fields = ["name", "=chat__id", "owner__username"]
    list_filter = ["dissolved_at"]
    list_select_related = ["owner"]
    readonly_fields = ["chat", "name", "avatar_url", "owner", "created_at", "dissolved_at", "members"]

    @admin.display(description="members")
    def member_count(self, group: Group) -> int:
        return ChatMember.objects.filter(chat_id=group.pk).count()

    @admin.display(description="members")
    def members(self, group: Group) -> str:
        """The group's members inline, with role, level, card and any running mute."""
        mutes = {m.user_id: m.until for m in Mute.objects.filter(group=group, until__gt=timezone.now())}
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (m.user.username, m.role, m.level, m.card, mutes.get(m.user_id) or "")
                for m in ChatMember.objects.filter(chat_id=group.pk).select_related("user").order_by("pk")
            ),
        )
        everyone = format_html("<p>Whole group muted until {}</p>", mutes[None]) if None in mutes else ""
        header = "<tr><th>user</th><th>role</th><th>level</th><th>card</th><th>muted until</th></tr>"
        return format_html("{}<table>" + header + "{}</table>", everyone, rows)


@admin.register(Mute)
class MuteAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["group", "user", "until", "operator", "created_at"]
    search_fields = ["group__name", "user__username"]
    list_select_related = ["group", "user", "operator"]


@admin.register(Notice)
class NoticeAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["group", "author", "created_at", "content"]
    search_fields = ["group__name", "content", "author__username"]
    list_select_related = ["group", "author"]


@admin.register(JoinRequest)
class JoinRequestAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["group", "user", "operator", "status", "created_at", "decided_at"]
    list_filter = ["status"]
    search_fields = ["group__name", "user__username"]
    list_select_related = ["group", "user", "operator"]
