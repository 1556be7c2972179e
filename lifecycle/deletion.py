"""Self-service account deletion: asked for with the password (and the second factor when it is
on), the person is signed out everywhere at once, and signing in again within
ACCOUNT_DELETION_GRACE_DAYS cancels it. After the grace the timers process anonymises the account
(account_anonymise): their messages stay in others' history under "Deleted account"; their profile,
files (avatar and every upload, also those attached to sent messages), friends, blocks (both ways),
sessions and their devices, pushes, second factor, single sign-on links and exports go; groups
they owned pass to the longest-standing admin, else member, or are dissolved when nobody is left;
their bots are anonymised the same way. Each step is idempotent, so a round that failed half-way
is simply run again."""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.utils import timezone

from accounts.access import require_active
from accounts.models import Block, BotToken, FriendRequest, Friendship, User, UserSession
from accounts.services import sign_out_sessions
from chats.models import Chat, ChatMember, Role
from groups.models import Group
from groups.services import group_data, group_leave
from imsuite import audit
from imsuite.errors import permission_denied, validation_error
from imsuite.events import publish
from imsuite.ratelimit import rate_limit_named
from media.avatars import avatar_replaced
from media.models import Attachment
from media.services import files_remove
from push.models import PushSubscription
from sso.models import ExternalIdentity
from twofactor import services as two_factor
from twofactor.models import RecoveryCode, TwoFactor

from .export import exports_remove
from .models import AccountDeletion

logger = logging.getLogger(__name__)

DELETED_NICKNAME = "Deleted account"  # the web client shows it translated
BATCH = 100  # deletions carried out per timers round


def deleted_username(user_id: int) -> str:
    return f"deleted-{user_id}"


def deletion_request(
    *, actor: User, password: str, code: str = "", recovery_code: str = ""
) -> AccountDeletion:
    """Ask for one's account to be deleted after the grace period; signs out every session now.
    The password is checked (throttled with the two-factor codes), then the second factor if on."""
    require_active(actor)
    if actor.is_bot:
        raise permission_denied("bot", "A bot is deleted by its owner's account, not by itself.")
    rate_limit_named("TWO_FACTOR", actor.pk)
    if not check_password(password or "", actor.password):
        raise validation_error("password", "wrong_password", "This password is wrong.")
    now = timezone.now()
    grace = timedelta(days=settings.IMSUITE["ACCOUNT_DELETION_GRACE_DAYS"])
    with transaction.atomic():
        if two_factor.is_enabled(actor):
            two_factor.second_factor_check(actor, code=code, recovery_code=recovery_code)
        deletion, _ = AccountDeletion.objects.update_or_create(
            user=actor, completed_at__isnull=True, defaults={"requested_at": now, "due_at": now + grace}
        )
        audit.record(
            actor, "account.deletion_requested", "user", actor.pk, due_at=deletion.due_at.isoformat()
        )
        sign_out_sessions(actor.pk)
    return deletion


def deletion_cancel_on_sign_in(sender: Any, user: User, **kwargs: Any) -> None:
    """session_started's receiver: a sign-in within the grace period cancels the deletion."""
    with transaction.atomic():
        cancelled, _ = AccountDeletion.objects.filter(user_id=user.pk, completed_at__isnull=True).delete()
        if cancelled:
            audit.record(user, "account.deletion_cancelled", "user", user.pk)


def deletions_due(now: Any = None) -> int:
    """The timers process's part: anonymise the accounts whose grace has passed. Returns how many."""
    now = now or timezone.now()
    due = AccountDeletion.objects.filter(due_at__lte=now, completed_at__isnull=True).order_by("due_at")
    done = 0
    for deletion in list(due[:BATCH]):
        try:
            account_anonymise(deletion.user_id)
            done += 1
        except Exception:  # the next round tries this account again; the others go on
            logger.exception("account deletion: user %s failed; trying again next round", deletion.user_id)
    return done


def account_anonymise(user_id: int) -> None:
    """Carry out a due deletion: idempotent steps, the completion written last. Groups are left
    while the account is still active (leaving is the groups' own service, which asks that)."""
    deletion = AccountDeletion.objects.filter(user_id=user_id, completed_at__isnull=True).first()
    if deletion is None:
        return
    user = User.objects.get(pk=user_id)
    bots = list(User.objects.filter(owner=user, is_bot=True))
    accounts = [user, *bots]
    for account in accounts:
        if account.is_active:
            _groups_leave(account)
        _relations_remove(account)
    with transaction.atomic():
        for account in accounts:
            _profile_clear(account)
        BotToken.objects.filter(bot__in=bots, revoked_at__isnull=True).update(revoked_at=timezone.now())
        for account in accounts:
            sign_out_sessions(account.pk)
        publish("user.deactivated", {a.pk for a in accounts}, {"user_id": user.pk})
    for account in accounts:
        files_remove(list(Attachment.objects.filter(uploader=account)))
    exports_remove(user)
    with transaction.atomic():
        done = AccountDeletion.objects.filter(user_id=user_id, completed_at__isnull=True)
        if done.update(completed_at=timezone.now()):
            audit.record(None, "account.deleted", "user", user_id, bots=[b.pk for b in bots])


def _profile_clear(account: User) -> None:
    avatar_replaced(account.avatar_url, "")
    account.username = deleted_username(account.pk)
    account.nickname = DELETED_NICKNAME
    account.first_name = account.last_name = account.email = account.bio = account.avatar_url = ""
    account.email_verified = False
    account.age = None
    account.is_active = account.is_staff = account.is_superuser = False
    account.set_unusable_password()
    account.save()
    TwoFactor.objects.filter(user=account).delete()
    RecoveryCode.objects.filter(user=account).delete()
    # The provider's account may come back: it then makes a new account, not this empty one.
    ExternalIdentity.objects.filter(user=account).delete()
    UserSession.objects.filter(user=account).delete()


def _relations_remove(account: User) -> None:
    friends = set(Friendship.objects.filter(user=account).values_list("friend_id", flat=True))
    with transaction.atomic():
        Friendship.objects.filter(user=account).delete()
        Friendship.objects.filter(friend=account).delete()
        FriendRequest.objects.filter(from_user=account).delete()
        FriendRequest.objects.filter(to_user=account).delete()
        Block.objects.filter(blocker=account).delete()
        Block.objects.filter(blocked=account).delete()
        PushSubscription.objects.filter(user=account).delete()
        for friend_id in sorted(friends):
            publish("friend.removed", {friend_id}, {"user_id": account.pk})


def _groups_leave(account: User) -> None:
    """Out of every group: an owned group first passes to its longest-standing admin, else member
    (a bot only when no person is left), or is dissolved when nobody else is in it."""
    memberships = ChatMember.objects.filter(
        user=account, chat__type=Chat.Type.GROUP, chat__group__dissolved_at__isnull=True
    )
    for member in list(memberships):
        if member.role == Role.OWNER:
            _owner_succeeded(member)
        group_leave(actor=account, group_id=member.chat_id)


def _owner_succeeded(owner: ChatMember) -> None:
    others = ChatMember.objects.filter(chat_id=owner.chat_id, user__is_active=True).exclude(pk=owner.pk)
    # "admin" sorts before "member"; people before bots; then the longest-standing
    heir = others.order_by("user__is_bot", "role", "joined_at", "pk").first()
    if heir is None:
        return  # nobody left: leaving dissolves the group
    with transaction.atomic():
        ChatMember.objects.filter(pk=heir.pk).update(role=Role.OWNER)
        ChatMember.objects.filter(pk=owner.pk).update(role=Role.MEMBER)
        Group.objects.filter(pk=owner.chat_id).update(owner_id=heir.user_id)
        group = Group.objects.get(pk=owner.chat_id)
        audit.record(None, "group.owner_succeeded", "group", group.pk, group.pk, user_id=heir.user_id)
        audience = set(ChatMember.objects.filter(chat_id=group.pk).values_list("user_id", flat=True))
        publish("group.updated", audience, {**group_data(group), "operator_id": None})
