"""Fetch-and-authorize helpers for accounts: one step, so no caller can forget the check."""

from imsuite.errors import DomainError, ErrorCode, not_found
from lifecycle.models import AccountDeletion

from .models import User


def is_moderator(user: User) -> bool:
    """Staff with the right to change users moderate: deactivate people, recall any message."""
    return bool(user.is_active and user.is_staff and user.has_perm("accounts.change_user"))


def inactive_actor() -> DomainError:
    """The one refusal of an account that is not (or no longer) active, on every door."""
    return DomainError(
        ErrorCode.AUTHENTICATION_FAILED, "This account is not active.", {"reason": "user_inactive"}
    )


def blocked_refusal() -> DomainError:
    """The one answer to anything a block stops (accounts.blocking), in either direction: it does
    not say who blocked whom (the blocker's client knows from its own block list and says so)."""
    return DomainError(ErrorCode.PERMISSION_DENIED, "You cannot reach this person.", {"reason": "blocked"})


def require_active(actor: User) -> None:
    """The actor is still active, asked of the database (one primary-key read): WebSocket and bot
    connections act with the User they loaded when they opened, which a ban since has not changed.
    The access helpers below fold this into their own query where they can, and ask only when
    their lookup failed."""
    if not User.objects.filter(pk=actor.pk, is_active=True).exists():
        raise inactive_actor()


def access_user(actor: User, user_id: int) -> User:
    """A profile anyone signed in may see; deactivated accounts are hidden except from moderators,
    and except deleted (anonymised) ones: their messages stay, named "Deleted account"."""
    require_active(actor)
    user = User.objects.filter(pk=user_id).first()
    if user is None or (not user.is_active and not is_moderator(actor) and not _anonymised(user)):
        raise not_found("User")
    return user


def _anonymised(user: User) -> bool:
    """Deleted by its person (lifecycle.deletion), or a bot of an account deleted so."""
    owners = [user.pk] if user.owner_id is None else [user.pk, user.owner_id]
    return AccountDeletion.objects.filter(user_id__in=owners, completed_at__isnull=False).exists()


def access_own_bot(actor: User, bot_id: int) -> User:
    bot = User.objects.filter(pk=bot_id, is_bot=True, owner=actor, owner__is_active=True).first()
    if bot is None:
        require_active(actor)
        raise not_found("Bot")
    return bot


def require_moderator(actor: User) -> None:
    require_active(actor)
    if not is_moderator(actor):
        raise DomainError(
            ErrorCode.PERMISSION_DENIED, "Only moderators may do this.", {"reason": "not_moderator"}
        )
