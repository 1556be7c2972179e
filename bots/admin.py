from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from imsuite.errors import DomainError

from . import dialects, selectors, services
from .models import ReverseEndpoint


class EndpointForm(forms.ModelForm):
    dialect = forms.ChoiceField(
        choices=[(name, name) for name in dialects.DIALECTS], initial=dialects.DEFAULT
    )

    class Meta:
        model = ReverseEndpoint
        fields = ["bot", "url", "access_token", "dialect"]


@admin.register(ReverseEndpoint)
class ReverseEndpointAdmin(admin.ModelAdmin):
    """Register or remove a bot's reverse endpoints; `runbots` picks changes up without a restart."""

    form = EndpointForm
    list_display = [
        "bot",
        "url",
        "dialect",
        "created_at",
        "last_error",
        "last_error_at",
        "last_complaint",
        "events_waiting",
    ]
    list_filter = ["dialect"]
    list_select_related = ["bot"]
    search_fields = ["bot__username", "url"]
    fields = [
        "bot",
        "url",
        "access_token",
        "dialect",
        "last_error",
        "last_error_at",
        "last_complaint",
        "last_complaint_at",
        "last_cursor",
        "events_waiting",
    ]
    readonly_fields = [
        "last_error",
        "last_error_at",
        "last_complaint",
        "last_complaint_at",
        "last_cursor",
        "events_waiting",
    ]
    autocomplete_fields = ["bot"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReverseEndpoint]:
        return selectors.with_events_waiting(super().get_queryset(request))

    @admin.display(description="events waiting", ordering="events_waiting")
    def events_waiting(self, obj: ReverseEndpoint) -> int:
        """Events kept since the last one the backend acknowledged (bots.stream)."""
        return getattr(obj, "events_waiting", 0)

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

    def delete_model(self, request: HttpRequest, obj: ReverseEndpoint) -> None:
        services.reverse_endpoint_delete(actor=request.user, bot_id=obj.bot_id, endpoint_id=obj.pk)
