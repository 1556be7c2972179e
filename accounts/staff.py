"""Staff powers: who may moderate and with which Django permissions. Only a superuser grants or
withdraws them, because a moderator allowed to change people could otherwise make themselves a
superuser; every change is in the audit log like any other moderation step."""

from collections.abc import Iterable

from django.contrib.auth.models import Group as PermissionGroup
from django.contrib.auth.models import Permission
from django.db import transaction

from imsuite import audit
from imsuite.errors import DomainError, ErrorCode

from .access import access_user, require_moderator
from .models import User


def _require_superuser(actor: User) -> None:
    require_moderator(actor)
    if not actor.is_superuser:
        raise DomainError(
            ErrorCode.PERMISSION_DENIED,
            "Only a superuser may grant or withdraw staff powers.",
            {"reason": "not_superuser"},
        )


def user_staff_set(
    *,
    actor: User,
    user_id: int,
    is_staff: bool,
    is_superuser: bool,
    group_ids: Iterable[int],
    permission_ids: Iterable[int],
) -> User:
    """Set a person's staff flags, permission groups and own permissions as a whole. A change that
    changes nothing records nothing; a superuser cannot withdraw their own superuser flag (the last
    one could lock everyone out)."""
    _require_superuser(actor)
    user = access_user(actor, user_id)
    wanted_groups, wanted_permissions = set(group_ids), set(permission_ids)
    before = {
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": set(user.groups.values_list("pk", flat=True)),
        "permissions": set(user.user_permissions.values_list("pk", flat=True)),
    }
    after = {
        "is_staff": is_staff,
        "is_superuser": is_superuser,
        "groups": wanted_groups,
        "permissions": wanted_permissions,
    }
    if before == after:
        return user
    if user.pk == actor.pk and not is_superuser:
        raise DomainError(
            ErrorCode.PERMISSION_DENIED, "You cannot withdraw your own superuser flag.", {"reason": "self"}
        )
    if user.is_bot and (is_staff or is_superuser or wanted_groups or wanted_permissions):
        raise DomainError(
            ErrorCode.PERMISSION_DENIED, "Bots cannot be given staff powers.", {"reason": "bot"}
        )
    groups = list(PermissionGroup.objects.filter(pk__in=wanted_groups))
    permissions = list(Permission.objects.filter(pk__in=wanted_permissions))
    if len(groups) != len(wanted_groups) or len(permissions) != len(wanted_permissions):
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, "No such permission group or permission.", {"reason": "unknown"}
        )
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_staff=is_staff, is_superuser=is_superuser)
        user.groups.set(groups)
        user.user_permissions.set(permissions)
        changes = {
            key: (sorted(value) if isinstance(value, set) else value)
            for key, value in after.items()
            if before[key] != value
        }
        audit.record(actor, "user.staff_set", "user", user.pk, **changes)
    user.refresh_from_db()
    return user
