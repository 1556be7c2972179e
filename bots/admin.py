from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from imsuite.errors import DomainError

from . import services
from .models import ReverseEndpoint


@admin.register(ReverseEndpoint)
class ReverseEndpointAdmin(admin.ModelAdmin):
    """Register or remove a bot's reverse endpoints; `runbots` picks changes up without a restart."""

    list_display = ["bot", "url", "created_at"]
    list_select_related = ["bot"]
    search_fields = ["bot__username", "url"]
    fields = ["bot", "url", "access_token"]
    autocomplete_fields = ["bot"]

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
            )
            obj.pk = created.pk
        except DomainError as exc:
            messages.error(request, f"{exc.message} ({exc.code})")

    def delete_model(self, request: HttpRequest, obj: ReverseEndpoint) -> None:
        services.reverse_endpoint_delete(actor=request.user, bot_id=obj.bot_id, endpoint_id=obj.pk)
