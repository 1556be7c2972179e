"""Admin adapter helpers: run a service for each selected row and report refusals as admin messages."""

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from .errors import DomainError


def run_for_each(request: HttpRequest, rows: Iterable[Any], action: Callable[[Any], Any], done: str) -> None:
    """Apply a service call to each row; one refusal does not stop the others."""
    succeeded = 0
    for row in rows:
        try:
            action(row)
            succeeded += 1
        except DomainError as exc:
            messages.error(request, f"{row}: {exc.message} ({exc.code})")
    if succeeded:
        messages.success(request, f"{done}: {succeeded}.")


def set_or_not_filter(field: str, name: str, yes: str, no: str) -> type[admin.SimpleListFilter]:
    """A list filter on whether a nullable field is set (`?<name>=yes|no`), with words for people."""

    class SetOrNot(admin.SimpleListFilter):
        title = parameter_name = name

        def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
            return [("yes", yes), ("no", no)]

        def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
            if self.value() in ("yes", "no"):
                return queryset.filter(**{f"{field}__isnull": self.value() == "no"})
            return queryset

    return SetOrNot


# URLs typed into admin without a scheme are https (Django 6's default, chosen now).
URL_FORMFIELD = {models.URLField: {"assume_scheme": "https"}}


class ViewOnlyAdminMixin:
    """For records changed only through services that have no admin form yet: moderators can
    find and read them; nothing is written behind the services' back."""

    formfield_overrides = URL_FORMFIELD

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeleteThroughServiceMixin:
    """Deleting, from a row's page or with the bulk action, calls the service `delete_one(request,
    obj)` for each row: its permission check and audit entry apply, and a refusal is shown and
    leaves the row (Django's own delete would remove it behind the service's back)."""

    def delete_one(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        try:
            self.delete_one(request, obj)
        except DomainError as exc:
            messages.error(request, f"{obj}: {exc.message} ({exc.code})")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> HttpResponse:
        """After a refusal, back to the list with the service's message only (not "deleted successfully")."""
        if self.model._default_manager.filter(pk=obj_id).exists():
            opts = self.model._meta
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        return super().response_delete(request, obj_display, obj_id)
