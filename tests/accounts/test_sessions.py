"""open_session: the user row as the ORM loads it, and the values read with it in one statement."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts import services as account_services
from accounts.models import BotToken, RevokedSession, User
from accounts.sessions import (
    NOT_REVOKED,
    REVOKED,
    AccessClaims,
    open_session,
    revoke_session,
    rights_lost,
    session_revoked,
)
from calls import services as call_services
from calls.models import Call
from chats import selectors
from chats import services as chat_services
from imsuite import sql
from imsuite.errors import DomainError

EXTRAS = (selectors.LAST_SEQ_OF_U, call_services.PARTY_WAITING_OF_U)


def claims(user_id: int, sid: str | None = "sid-1") -> AccessClaims:
    return AccessClaims(user_id=user_id, sid=sid, expires_at=datetime.now(UTC) + timedelta(minutes=5))


def fields(user: User) -> dict:
    return {name: value for name, value in vars(user).items() if name != "_state"}


@pytest.mark.django_db
def test_the_user_row_is_loaded_as_the_orm_loads_it(alice):
    User.objects.filter(pk=alice.pk).update(
        last_seen=datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC), is_staff=True
    )
    session, extras = open_session(claims(alice.pk))
    assert fields(session.user) == fields(User.objects.get(pk=alice.pk))
    assert session.user.last_seen == datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    assert session.user.is_staff is True and session.user.age == 28
    assert session.user._state.adding is False and session.user._state.db == "default"
    assert (session.sid, extras) == ("sid-1", ())


@pytest.mark.django_db
def test_instance_reads_any_model_from_its_columns(alice):
    row = sql.fetch_one(
        f"SELECT {sql.columns(User, 'x')} FROM {User._meta.db_table} x WHERE x.id = %s", [alice.pk]
    )
    assert fields(sql.instance(User, row)) == fields(User.objects.get(pk=alice.pk))


@pytest.mark.django_db
def test_the_last_seq_comes_with_the_row(alice, bob, carol):
    assert open_session(claims(carol.pk), *EXTRAS)[1] == (None, False)
    with_bob = chat_services.private_chat_ensure(user_a=alice, user_b=bob)
    first, _ = chat_services.message_send(actor=alice, chat_id=with_bob.pk, content="one")
    with_carol = chat_services.private_chat_ensure(user_a=alice, user_b=carol)
    second, _ = chat_services.message_send(actor=alice, chat_id=with_carol.pk, content="two")
    assert first.seq < second.seq
    seqs = {user: open_session(claims(user.pk), *EXTRAS)[1][0] for user in (alice, bob, carol)}
    assert seqs == {alice: second.seq, bob: first.seq, carol: second.seq}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "caller_lost", "callee_lost", "alice_waits", "bob_waits"),
    [
        ("active", False, False, False, False),
        ("active", True, False, True, False),
        ("ringing", False, True, False, True),
        ("ended", True, True, False, False),  # only a live call waits
    ],
)
def test_a_waiting_call_comes_with_the_row(
    alice, bob, state, caller_lost, callee_lost, alice_waits, bob_waits
):
    now = datetime.now(UTC)
    Call.objects.create(
        call_id="c1",
        caller=alice,
        callee=bob,
        call_type="audio",
        state=state,
        caller_lost_at=now if caller_lost else None,
        callee_lost_at=now if callee_lost else None,
    )
    waits = [bool(open_session(claims(user.pk), *EXTRAS)[1][1]) for user in (alice, bob)]
    assert waits == [alice_waits, bob_waits]


@pytest.mark.django_db
def test_refusals(alice, bob):
    User.objects.filter(pk=bob.pk).update(is_active=False)
    revoke_session("gone")
    for user_id, sid, reason in [
        (bob.pk, "sid-1", "user_inactive"),
        (10**9, "sid-1", "user_inactive"),
        (alice.pk, "gone", "session_revoked"),
    ]:
        with pytest.raises(DomainError) as refused:
            open_session(claims(user_id, sid), *EXTRAS)
        assert (refused.value.code, refused.value.details) == ("AUTHENTICATION_FAILED", {"reason": reason})


@pytest.mark.django_db
def test_a_signed_out_session_stays_refused_when_the_cache_is_wiped(alice):
    revoke_session("gone")
    cache.clear()  # what a Redis restart does
    with pytest.raises(DomainError) as refused:
        open_session(claims(alice.pk, "gone"))
    assert refused.value.details == {"reason": "session_revoked"}
    assert cache.get("revoked-session:gone") == REVOKED  # read from the database, cached again
    assert session_revoked("gone") is True


@pytest.mark.django_db
def test_not_revoked_is_cached_briefly_and_a_sign_out_overrides_it(alice):
    assert session_revoked("live") is False
    assert cache.get("revoked-session:live") == NOT_REVOKED
    revoke_session("live")
    assert session_revoked("live") is True
    cache.clear()
    assert session_revoked("live") is True


@pytest.mark.django_db
def test_a_sign_out_prunes_rows_whose_tokens_have_expired(alice):
    RevokedSession.objects.create(sid="old", expires_at=timezone.now() - timedelta(seconds=1))
    revoke_session("new")
    assert sorted(RevokedSession.objects.values_list("sid", flat=True)) == ["new"]


@pytest.mark.django_db
def test_rights_lost_reads_deactivation_sign_out_and_bot_tokens_from_the_database(alice, bob, carol):
    bot, token = account_services.bot_create(actor=carol, username="helper")
    old_hash = account_services.hash_bot_token(token)
    _, new_token = account_services.bot_token_rotate(actor=carol, bot_id=bot.pk)
    User.objects.filter(pk=bob.pk).update(is_active=False)
    revoke_session("gone")
    cache.clear()
    credentials = [
        (alice.pk, "fine", None),
        (alice.pk, "gone", None),
        (bob.pk, "fine", None),
        (10**9, None, None),
        (bot.pk, None, old_hash),
        (bot.pk, None, account_services.hash_bot_token(new_token)),
    ]
    assert rights_lost(credentials) == [
        None,
        "logged_out",
        "deactivated",
        "deactivated",
        "token_revoked",
        None,
    ]
    assert BotToken.objects.filter(bot=bot).count() == 2
