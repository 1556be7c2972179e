from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from chats.selectors import member_count
from imsuite.admin_services import ViewOnlyAdminMixin, run_for_each
from imsuite.models import AuditEntry

from . import selectors, services
from .models import Group, GroupBan, GroupMember, InviteLink, JoinRequest, Mute, Notice


class ModerationForm(ActionForm):
    """Extra inputs next to the action menu: how long a mute lasts, what a notice says."""

    duration = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=services.MAX_MUTE_SECONDS,
        help_text="Mute (or ban; empty: for good) for this many seconds.",
    )
    notice = forms.CharField(required=False, max_length=4000, help_text="Text of the notice to send.")

    def is_valid(self) -> bool:
        """Admin runs the action when the action itself is valid; the action reports a bad duration or
        notice (otherwise admin would answer a mistyped duration with "No action selected")."""
        return not ({"action", "select_across"} & set(self.errors))


def _form_value(request: HttpRequest, name: str) -> Any:
    """A validated value from the inputs beside the action menu, or None. The form as a whole never
    validates here (its action menu has no choices; admin checked the action), so read the one field."""
    form = ModerationForm(request.POST)
    form.is_valid()
    return form.cleaned_data.get(name)


@admin.register(Group)
class GroupAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    action_form = ModerationForm
    actions = ["mute_everyone", "unmute_everyone", "send_notice", "dissolve"]
    list_display = ["chat_id", "name", "owner", "member_count", "created_at", "dissolved_at"]
    search_fields = ["name", "=chat__id", "owner__username"]
    list_filter = ["dissolved_at"]
    list_select_related = ["owner"]
    readonly_fields = ["chat", "name", "avatar_url", "owner", "created_at", "dissolved_at", "members"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Group]:
        return super().get_queryset(request).annotate(members_total=member_count("pk"))

    @admin.display(description="members", ordering="members_total")
    def member_count(self, group: Group) -> int:
        return group.members_total or 0

    @admin.display(description="members")
    def members(self, group: Group) -> str:
        """The group's members inline, with role, level, card and any running mute."""
        mutes = {m.user_id: m.until for m in selectors.active_mutes([group.pk]).get(group.pk, [])}
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (m.user.username, m.role, m.level, m.card, mutes.get(m.user_id) or "")
                for m in selectors.member_rows(group)
            ),
        )
        everyone = format_html("<p>Whole group muted until {}</p>", mutes[None]) if None in mutes else ""
        header = "<tr><th>user</th><th>role</th><th>level</th><th>card</th><th>muted until</th></tr>"
        return format_html("{}<table>" + header + "{}</table>", everyone, rows)

    @admin.action(description="Mute everyone (duration from the field beside the menu)")
    def mute_everyone(self, request: HttpRequest, queryset: QuerySet[Group]) -> None:
        duration = _form_value(request, "duration")
        if not duration:
            messages.error(request, "Give a duration in seconds.")
            return
        run_for_each(
            request,
            queryset,
            lambda g: services.group_ban(actor=request.user, group_id=g.pk, duration=duration),
            "Muted",
        )

    @admin.action(description="Lift the whole-group mute")
    def unmute_everyone(self, request: HttpRequest, queryset: QuerySet[Group]) -> None:
        run_for_each(
            request,
            queryset,
            lambda g: services.group_ban(actor=request.user, group_id=g.pk, duration=0),
            "Unmuted",
        )

    @admin.action(description="Send a notice (text from the field beside the menu)")
    def send_notice(self, request: HttpRequest, queryset: QuerySet[Group]) -> None:
        text = _form_value(request, "notice")
        if not text:
            messages.error(request, "Write the notice's text.")
            return
        run_for_each(
            request,
            queryset,
            lambda g: services.notice_create(actor=request.user, group_id=g.pk, content=text),
            "Notice sent",
        )

    @admin.action(description="Dissolve selected groups")
    def dissolve(self, request: HttpRequest, queryset: QuerySet[Group]) -> None:
        run_for_each(
            request,
            queryset,
            lambda g: services.group_dissolve(actor=request.user, group_id=g.pk),
            "Dissolved",
        )


@admin.register(GroupMember)
class GroupMemberAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Moderate members: mute for a duration, unmute, kick, promote, demote; all through the services."""

    list_display = ["user", "group_name", "role", "level", "card", "joined_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__nickname", "chat__group__name", "=chat__id"]
    list_select_related = ["user", "chat__group"]
    action_form = ModerationForm
    actions = ["mute", "unmute", "kick", "ban", "promote", "demote"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[GroupMember]:
        return super().get_queryset(request).filter(chat__type="group")

    @admin.display(description="group", ordering="chat__group__name")
    def group_name(self, member: GroupMember) -> str:
        return f"{member.chat.group.name} ({member.chat_id})"

    def _each(
        self, request: HttpRequest, queryset: QuerySet[GroupMember], call: Callable[..., Any], done: str
    ) -> None:
        run_for_each(
            request, queryset, lambda m: call(actor=request.user, group_id=m.chat_id, user_id=m.user_id), done
        )

    @admin.action(description="Mute (duration from the field beside the menu)")
    def mute(self, request: HttpRequest, queryset: QuerySet[GroupMember]) -> None:
        duration = _form_value(request, "duration")
        if not duration:
            messages.error(request, "Give a duration in seconds.")
            return
        self._each(request, queryset, lambda **kw: services.group_ban(duration=duration, **kw), "Muted")

    @admin.action(description="Unmute")
    def unmute(self, request: HttpRequest, queryset: QuerySet[GroupMember]) -> None:
        self._each(request, queryset, lambda **kw: services.group_ban(duration=0, **kw), "Unmuted")

    @admin.action(description="Kick out of the group")
    def kick(self, request: HttpRequest, queryset: QuerySet[GroupMember]) -> None:
        self._each(request, queryset, services.member_kick, "Kicked")

    @admin.action(description="Ban from the group (for the duration beside the menu, or for good)")
    def ban(self, request: HttpRequest, queryset: QuerySet[GroupMember]) -> None:
        duration = _form_value(request, "duration")
        self._each(request, queryset, lambda **kw: services.member_ban(duration=duration, **kw), "Banned")

    @admin.action(description="Promote to admin")
    def promote(self, request: HttpRequest, queryset: QuerySet[GroupMember]) -> None:
        self._each(request, queryset, lambda **kw: services.member_update(role="admin", **kw), "Promoted")

    @admin.action(description="Demote to member")
    def demote(self, request: HttpRequest, queryset: QuerySet[GroupMember]) -> None:
        self._each(request, queryset, lambda **kw: services.member_update(role="member", **kw), "Demoted")


@admin.register(AuditEntry)
class AuditEntryAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Every moderation step, whatever door it came through."""

    list_display = ["created_at", "actor", "action", "target_type", "target_id", "group_id", "source"]
    list_filter = ["action", "source", "target_type", "created_at"]
    search_fields = ["actor__username", "action", "=target_id", "=group_id"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"


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


@admin.register(GroupBan)
class GroupBanAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Bans (expired ones included, with their end); lifting goes through the service."""

    list_display = ["group", "user", "until", "reason", "operator", "created_at"]
    search_fields = ["group__name", "=group__chat__id", "user__username"]
    list_select_related = ["group", "user", "operator"]
    actions = ["lift"]

    @admin.action(description="Lift the selected bans")
    def lift(self, request: HttpRequest, queryset: QuerySet[GroupBan]) -> None:
        run_for_each(
            request,
            queryset,
            lambda b: services.ban_lift(actor=request.user, group_id=b.group_id, user_id=b.user_id),
            "Lifted",
        )


@admin.register(InviteLink)
class InviteLinkAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Invite links, to see who let whom in; revoking is for the group's owner and admins."""

    list_display = ["group", "creator", "needs_approval", "uses", "max_uses", "expires_at", "revoked_at"]
    search_fields = ["group__name", "=group__chat__id", "creator__username"]
    list_select_related = ["group", "creator"]
    exclude = ["token"]
