"""Bots in the admin: reverse endpoints (registered and removed through the services), and per bot
its forward connections and endpoints: dialect, connected or not, since when, last error, last
complaint, and the events waiting for it."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from imsuite.admin_services import DeleteThroughServiceMixin, ViewOnlyAdminMixin
from imsuite.errors import DomainError

from . import dialects, selectors, services
from .models import Bot, BotConnection, ReverseEndpoint


@admin.display(description="events waiting")
def events_waiting(endpoint: ReverseEndpoint) -> int:
    """What the bot's stream holds after the last event the endpoint acknowledged (bots.stream):
    its next connection replays it. Read from the annotation of selectors.with_events_waiting."""
    return getattr(endpoint, "events_waiting", 0)


def _when(value: object) -> object:
    return value or ""


class EndpointForm(forms.ModelForm):
    dialect = forms.ChoiceField(
        choices=[(name, name) for name in dialects.DIALECTS], initial=dialects.DEFAULT
    )

    class Meta:
        model = ReverseEndpoint
        fields = ["bot", "url", "access_token", "dialect"]


@admin.register(ReverseEndpoint)
class ReverseEndpointAdmin(DeleteThroughServiceMixin, admin.ModelAdmin):
    """Register or remove a bot's reverse endpoints; `runbots` picks changes up without a restart."""

    form = EndpointForm
    list_display = [
        "bot",
        "url",
        "dialect",
        "connected",
        "connected_at",
        "last_error",
        "last_error_at",
        "last_complaint",
        events_waiting,
        "created_at",
    ]
    list_filter = ["dialect"]
    list_select_related = ["bot"]
    search_fields = ["bot__username", "url"]
    readonly_fields = [
        "last_error",
        "last_error_at",
        "last_complaint",
        "last_complaint_at",
        "connected",
        "connected_at",
        "last_cursor",
        events_waiting,
    ]
    fields = ["bot", "url", "access_token", "dialect", *readonly_fields]
    autocomplete_fields = ["bot"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReverseEndpoint]:
        return selectors.with_events_waiting(super().get_queryset(request))

    @admin.display(boolean=True, description="connected")
    def connected(self, endpoint: ReverseEndpoint) -> bool:
        return endpoint.pk is not None and selectors.endpoint_connected(endpoint)

    def has_change_permission(self, request: HttpRequest, obj: ReverseEndpoint | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)  # delete and add again instead

    def save_model(
        self, request: HttpRequest, obj: ReverseEndpoint, form: forms.ModelForm, change: bool
    ) -> None:
        try:
            created = services.reverse_endpoint_create(
                actor=request.user,
                bot_id=form.cleaned_data["bot"].pk,
                url=form.cleaned_data["url"],
                access_token=form.cleaned_data["access_token"],
                dialect=form.cleaned_data["dialect"],
            )
            obj.pk = created.pk
        except DomainError as exc:
            messages.error(request, f"{exc.message} ({exc.code})")

    def log_addition(self, request: HttpRequest, obj: ReverseEndpoint, message: object) -> None:
        if obj.pk is not None:  # a refusal added nothing
            super().log_addition(request, obj, message)

    def response_add(
        self, request: HttpRequest, obj: ReverseEndpoint, post_url_continue: str | None = None
    ) -> HttpResponse:
        """After a refusal, back to the list with the service's message only (not "added successfully")."""
        if obj.pk is None:
            return HttpResponseRedirect(reverse("admin:bots_reverseendpoint_changelist"))
        return super().response_add(request, obj, post_url_continue)

    def delete_one(self, request: HttpRequest, obj: ReverseEndpoint) -> None:
        services.reverse_endpoint_delete(actor=request.user, bot_id=obj.bot_id, endpoint_id=obj.pk)


@admin.register(BotConnection)
class BotConnectionAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Forward connections (/ws/bot); one whose process ended without closing it shows as not open."""

    list_display = [
        "bot",
        "dialect",
        "opened_at",
        "address",
        "is_open",
        "last_complaint",
        "last_complaint_at",
    ]
    list_filter = ["dialect"]
    list_select_related = ["bot"]
    search_fields = ["bot__username", "address"]

    @admin.display(boolean=True, description="open")
    def is_open(self, row: BotConnection) -> bool:
        return row.connection in selectors.live_connections(row.bot_id)


@admin.register(Bot)
class BotAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Each bot with its forward connections and reverse endpoints on one page."""

    list_display = ["username", "nickname", "owner", "is_active", "connections", "endpoints"]
    list_select_related = ["owner"]
    search_fields = ["username", "nickname"]
    fields = ["username", "nickname", "owner", "is_active", "forward_connections", "reverse_endpoints"]
    readonly_fields = ["forward_connections", "reverse_endpoints"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Bot]:
        """Counted in the list's one query; whether each is open is on the bot's page."""
        return (
            super()
            .get_queryset(request)
            .filter(is_bot=True)
            .annotate(
                connection_count=Count("bot_connections", distinct=True),
                endpoint_count=Count("reverse_endpoints", distinct=True),
            )
        )

    @admin.display(description="forward connections", ordering="connection_count")
    def connections(self, bot: Bot) -> int:
        return bot.connection_count

    @admin.display(description="reverse endpoints", ordering="endpoint_count")
    def endpoints(self, bot: Bot) -> int:
        return bot.endpoint_count

    @admin.display(description="forward connections")
    def forward_connections(self, bot: Bot) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    c.row.dialect,
                    c.row.opened_at,
                    c.row.address,
                    "yes" if c.open else "no (its process ended)",
                    c.row.last_complaint,
                    _when(c.row.last_complaint_at),
                )
                for c in selectors.forward_connections_of(bot)
            ),
        )
        header = (
            "<tr><th>dialect</th><th>since</th><th>from</th><th>open</th>"
            "<th>last complaint</th><th>at</th></tr>"
        )
        return format_html("<table>" + header + "{}</table>", rows)

    @admin.display(description="reverse endpoints")
    def reverse_endpoints(self, bot: Bot) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    e.url,
                    e.dialect,
                    f"since {e.connected_at}" if selectors.endpoint_connected(e) else "no",
                    e.last_error,
                    _when(e.last_error_at),
                    e.last_complaint,
                    events_waiting(e),
                )
                for e in selectors.with_events_waiting(selectors.reverse_endpoints_of(bot))
            ),
        )
        header = (
            "<tr><th>url</th><th>dialect</th><th>connected</th><th>last error</th><th>at</th>"
            "<th>last complaint</th><th>events waiting</th></tr>"
        )
        return format_html("<table>" + header + "{}</table>", rows)
