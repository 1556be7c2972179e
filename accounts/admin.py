import contextvars

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.widgets import AdminURLFieldWidget
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, BaseUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from imsuite.admin_services import URL_FORMFIELD, ViewOnlyAdminMixin, run_for_each
from imsuite.errors import DomainError
from media.avatars import is_avatar_url
from media.selectors import storage_used
from twofactor import services as two_factor

from . import services
from .models import BotToken, FriendRequest, Friendship, Notification, User, UserSession
from .selectors import blocks_of
from .staff import user_staff_set

STAFF_FIELDS = ["is_staff", "is_superuser", "groups", "user_permissions"]


class UserAddForm(BaseUserCreationForm):
    """Always a password (user_register needs one) and the service's username rules, so a refusal
    shows on the form instead of after a false "added successfully"."""

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        try:
            services._check_username(username)
        except DomainError as exc:
            raise ValidationError(exc.message) from exc
        return username


class ThrottledAdminLogin(AdminAuthenticationForm):
    """The admin's sign-in answers to the API's sign-in throttle (the same counters): otherwise
    /admin/login/ would be the door a password guesser uses. It asks for the second factor too."""

    second_factor = forms.CharField(
        label=_("Two-factor code"),
        required=False,
        max_length=32,
        help_text=_("If two-factor sign-in is on: the code from your app, or a recovery code."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )

    def clean(self) -> dict:
        if not (self.cleaned_data.get("username") and self.cleaned_data.get("password")):
            return super().clean()  # the fields' own errors; no password was tried
        address = self.request.META.get("REMOTE_ADDR", "") if self.request is not None else ""
        who = {"username": self.cleaned_data["username"], "address": address}
        try:
            services.signin_admit(**who)
        except DomainError as refusal:
            wait = refusal.details["retry_after"]
            raise ValidationError(
                f"Too many failed sign-ins: try again in {wait} s.", code="rate_limited"
            ) from refusal
        try:
            cleaned = super().clean()
        finally:  # a right password (staff or not) is a success, no user a failure
            outcome = services.signin_failed if self.user_cache is None else services.signin_succeeded
            outcome(**who)
        self._second_factor_check(self.user_cache)
        return cleaned

    def _second_factor_check(self, user: User) -> None:
        """An enrolled person's code (or recovery code) is needed; with TWO_FACTOR_REQUIRED_FOR_STAFF,
        staff without a second factor are sent to enrol in the web client first."""
        if not two_factor.is_enabled(user):
            if two_factor.is_required(user):
                raise ValidationError(
                    _("Two-factor sign-in is required for staff: turn it on in Settings first."),
                    code="two_factor_enrol",
                )
            return
        given = (self.cleaned_data.get("second_factor") or "").strip()
        is_totp = given.isdigit()
        try:
            two_factor.second_factor_check(
                user, code=given if is_totp else "", recovery_code="" if is_totp else given
            )
        except DomainError as refusal:
            message = _("The two-factor code is missing or not valid.")
            raise ValidationError(message, code="two_factor") from refusal


admin.site.login_form = ThrottledAdminLogin


class AvatarURLField(forms.URLField):
    """An outside http(s) URL, or the URL of an avatar uploaded here: that one is relative to the
    server while PUBLIC_BASE_URL is empty, and is kept as it is."""

    def clean(self, value: str) -> str:
        return value if is_avatar_url(value or "") else super().clean(value)


class UserChangeForm(DjangoUserChangeForm):
    avatar_url = AvatarURLField(
        required=False, max_length=500, assume_scheme="https", widget=AdminURLFieldWidget
    )

    def _get_validation_exclusions(self) -> set[str]:
        """The model field's URL validator would refuse the relative URL of an uploaded avatar."""
        excluded = super()._get_validation_exclusions()
        return (
            excluded | {"avatar_url"} if is_avatar_url(self.cleaned_data.get("avatar_url", "")) else excluded
        )


# The moderator behind the password form being saved (Django's view builds the form without the
# request): set by UserAdmin.user_change_password for its own request only.
_password_setter: contextvars.ContextVar[User] = contextvars.ContextVar("password_setter")


class PasswordSetForm(AdminPasswordChangeForm):
    """Django's "change password" form, saved by the account service: the person is signed out
    everywhere and the audit log records it."""

    def save(self, commit: bool = True) -> User:
        usable = self.cleaned_data["set_usable_password"]
        password = self.cleaned_data["password1"] if usable else None
        saved = services.user_password_set(
            actor=_password_setter.get(), user_id=self.user.pk, password=password
        )
        self.user.password = saved.password  # a moderator who set their own stays signed in to admin
        return self.user


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = [
        "username",
        "nickname",
        "is_bot",
        "owner",
        "is_active",
        "is_staff",
        "last_seen",
        "date_joined",
        "storage",
    ]
    list_filter = ["is_bot", "is_active", "is_staff", "sex"]
    list_select_related = ["owner"]
    search_fields = ["username", "nickname", "email"]
    # The address is its owner's to give and verify (accounts.credentials): an address typed here
    # would be trusted for password resets without anyone having opened its link.
    readonly_fields = [
        "is_active",
        "last_seen",
        "last_login",
        "date_joined",
        "is_bot",
        "owner",
        "blocked_people",
        "email",
        "email_verified",
    ]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Profile", {"fields": ["nickname", "avatar_url", "sex", "age", "bio"]}),
        ("Email", {"fields": ["email", "email_verified"]}),
        ("Bot", {"fields": ["is_bot", "owner"]}),
        ("Status", {"fields": ["is_active", "last_seen", "last_login", "date_joined"]}),
        ("Blocking", {"fields": ["blocked_people"]}),
        ("Staff", {"fields": ["is_staff", "is_superuser", "groups", "user_permissions"]}),
    ]
    add_form = UserAddForm
    form = UserChangeForm
    change_password_form = PasswordSetForm
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["username", "password1", "password2"]})]
    actions = ["deactivate", "reactivate"]
    formfield_overrides = URL_FORMFIELD

    @admin.display(description="Blocked people")
    def blocked_people(self, obj: User) -> str:
        """Whom this person blocked, newest first: read-only (a block is the person's own decision,
        lifted only by them)."""
        rows = [f"{block.blocked} (since {block.created_at:%Y-%m-%d %H:%M})" for block in blocks_of(obj)]
        return ", ".join(rows) or "-"

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).annotate(storage_bytes=storage_used("pk"))

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> list[str]:
        """A username is chosen once (no service renames people: others know them by it); staff
        powers are shown to every moderator but changed by superusers only (accounts.staff)."""
        if obj is None:
            return self.readonly_fields
        staff = [] if request.user.is_superuser else STAFF_FIELDS
        return [*self.readonly_fields, "username", *staff]

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        """People and bots are deactivated (the action below), never deleted from here: their
        messages, groups and audit entries refer to them."""
        return False

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        """Django's view, whose form saves through user_password_set as this moderator."""
        token = _password_setter.set(request.user)
        try:
            return super().user_change_password(request, id, form_url)
        except DomainError as exc:
            messages.error(request, f"{exc.message} ({exc.code})")
            return HttpResponseRedirect(request.get_full_path())
        finally:
            _password_setter.reset(token)

    @admin.display(description="storage", ordering="storage_bytes")
    def storage(self, user: User) -> str:
        """What the person's uploads take in the media storage (sort the column for the largest)."""
        return filesizeformat(user.storage_bytes)

    def save_model(self, request: HttpRequest, obj: User, form, change: bool) -> None:
        """New accounts and profile edits go through the account services; staff flags are Django's own."""
        try:
            if not change:
                created = services.user_register(
                    username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
                )
                obj.pk, obj.password, obj.nickname = created.pk, created.password, created.nickname
                obj._state.adding = False
                return
            profile = {f: form.cleaned_data[f] for f in form.changed_data if f in services.PROFILE_FIELDS}
            if profile:
                services.user_update(actor=request.user, user_id=obj.pk, **profile)
            if set(form.changed_data) & set(STAFF_FIELDS):
                data = form.cleaned_data
                user_staff_set(
                    actor=request.user,
                    user_id=obj.pk,
                    is_staff=data["is_staff"],
                    is_superuser=data["is_superuser"],
                    group_ids=[group.pk for group in data["groups"]],
                    permission_ids=[permission.pk for permission in data["user_permissions"]],
                )
            other = [
                f for f in form.changed_data if f not in services.PROFILE_FIELDS and f not in STAFF_FIELDS
            ]
            if other:
                obj.save(update_fields=other)
        except DomainError as exc:
            messages.error(request, f"{exc.message} ({exc.code})")

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """The only related fields are the staff powers, which save_model set through the service."""

    @admin.action(description="Deactivate selected users (and their bots)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        run_for_each(
            request,
            queryset,
            lambda u: services.user_set_active(actor=request.user, user_id=u.pk, active=False),
            "Deactivated",
        )

    @admin.action(description="Reactivate selected users")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        run_for_each(
            request,
            queryset,
            lambda u: services.user_set_active(actor=request.user, user_id=u.pk, active=True),
            "Reactivated",
        )


@admin.register(UserSession)
class UserSessionAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Where people are signed in. Moderators sign a person out everywhere by deactivating them or
    setting their password; one session is its owner's to end (Settings, Sessions)."""

    list_display = ["user", "browser", "system", "address", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "address"]
    exclude = ["sid"]


@admin.register(BotToken)
class BotTokenAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["prefix", "bot", "created_at", "revoked_at"]
    list_select_related = ["bot"]
    search_fields = ["bot__username", "prefix"]
    exclude = ["key_hash"]


@admin.register(Friendship)
class FriendshipAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["user", "friend", "created_at"]
    search_fields = ["user__username", "friend__username"]
    list_select_related = ["user", "friend"]


@admin.register(FriendRequest)
class FriendRequestAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["from_user", "to_user", "status", "created_at", "responded_at"]
    list_filter = ["status"]
    search_fields = ["from_user__username", "to_user__username"]
    list_select_related = ["from_user", "to_user"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Staff send notifications from here; saving goes through the service, which delivers them."""

    list_display = ["title", "type", "sent_by", "created_at"]
    list_select_related = ["sent_by"]
    search_fields = ["title", "message"]
    list_filter = ["type"]
    fields = ["title", "message", "type", "action_url", "recipients"]
    autocomplete_fields = ["recipients"]
    formfield_overrides = URL_FORMFIELD

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)  # sent is sent

    def has_delete_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False  # sent is sent: the row is the record of what staff told people

    def save_model(self, request: HttpRequest, obj: Notification, form, change: bool) -> None:
        try:
            sent = services.notification_send(
                actor=request.user,
                title=form.cleaned_data["title"],
                message=form.cleaned_data["message"],
                type=form.cleaned_data["type"],
                action_url=form.cleaned_data["action_url"],
                user_ids=[u.pk for u in form.cleaned_data["recipients"]],
            )
            obj.pk = sent.pk
        except DomainError as exc:
            messages.error(request, f"{exc.message} ({exc.code})")

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """The service stored the recipients already."""


# simplejwt's own admin lets staff delete a blacklisted refresh token, which would bring a signed-out
# session back to life; here it is only read (sign-outs go through the account services).
admin.site.unregister(BlacklistedToken)


@admin.register(BlacklistedToken)
class BlacklistedTokenAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["token", "blacklisted_at"]
    list_select_related = ["token__user"]
    search_fields = ["token__user__username", "token__jti"]
