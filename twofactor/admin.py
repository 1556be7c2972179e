from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from imsuite.admin_services import ViewOnlyAdminMixin, run_for_each

from . import services
from .models import TwoFactor


@admin.register(TwoFactor)
class TwoFactorAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Who has a second factor; the one change offered is turning it off for someone who lost both
    their phone and their recovery codes (twofactor.services.two_factor_reset, audited)."""

    list_display = ["user", "confirmed_at", "created_at"]
    list_filter = [("confirmed_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username"]
    fields = ["user", "confirmed_at", "created_at"]  # never the (encrypted) secret
    actions = ["reset"]

    @admin.action(description="Turn two-factor sign-in off for the selected people (lost device)")
    def reset(self, request: HttpRequest, queryset: QuerySet[TwoFactor]) -> None:
        run_for_each(
            request,
            queryset,
            lambda row: services.two_factor_reset(actor=request.user, user_id=row.user_id),
            "Two-factor sign-in turned off for",
        )
