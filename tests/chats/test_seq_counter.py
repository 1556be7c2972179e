"""The seq counter is never behind a stored seq: repaired at a process's first seq, by a hub that
sees it go back (tests/chats/test_ws.py), and by `manage.py repair_seq`."""

import logging
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.services import friendship_create
from chats import seq_counter, services
from chats.models import Chat, Message, SeqCounter
from chats.seq_counter import highest_stored_seq, seq_counter_repair
from groups.services import group_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def chats(alice, bob, carol) -> tuple[Chat, Chat]:
    """Alice's private chat with Bob, and a group of the three, each with messages; the newest
    change is an edit in the private chat (Message.seq is the latest change's)."""
    for friend in (bob, carol):
        friendship_create(user_a=alice, user_b=friend)
    pair = Chat.objects.get(private_key=f"{alice.pk}:{bob.pk}")
    group = group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk]).chat
    first, _ = services.message_send(actor=alice, chat_id=pair.pk, content="one")
    services.message_send(actor=bob, chat_id=group.pk, content="two")
    services.message_edit(actor=alice, message_id=first.pk, content="one, edited")
    return pair, group


def counter() -> int:
    return SeqCounter.objects.get(pk=1).value


def test_the_highest_stored_seq_is_the_newest_change_of_any_chat(chats):
    assert highest_stored_seq() == max(Message.objects.values_list("seq", flat=True)) == counter()


def test_a_counter_below_the_stored_seqs_is_raised_and_sends_continue_above(chats, alice, caplog):
    pair, _ = chats
    top = highest_stored_seq()
    SeqCounter.objects.filter(pk=1).update(value=1)
    with caplog.at_level(logging.WARNING, logger="chats.seq_counter"):
        assert seq_counter_repair() == (1, top)
    assert counter() == top
    assert f"the seq counter was 1, below the highest stored seq: raised to {top}" in caplog.text
    message, _ = services.message_send(actor=alice, chat_id=pair.pk, content="three")
    assert (message.seq, message.created_seq) == (top + 1, top + 1)


def test_a_counter_not_below_is_left_alone(chats):
    top = highest_stored_seq()
    assert seq_counter_repair() is None
    SeqCounter.objects.filter(pk=1).update(value=top + 5)  # ahead (seqs of rolled-back changes)
    assert seq_counter_repair() is None
    assert counter() == top + 5
    SeqCounter.objects.all().delete()  # a missing row is take_seqs's to create, from the stored seqs
    assert seq_counter_repair() is None
    assert not SeqCounter.objects.exists()
    assert seq_counter.take_seqs(1) == top + 1


def test_a_process_repairs_the_counter_before_its_first_seq(
    chats, alice, monkeypatch, django_capture_on_commit_callbacks
):
    pair, _ = chats
    top = highest_stored_seq()
    SeqCounter.objects.filter(pk=1).update(value=1)
    monkeypatch.setattr(seq_counter, "_counter_repaired", False)  # as in a process just started
    with django_capture_on_commit_callbacks(execute=True):
        message, _ = services.message_send(actor=alice, chat_id=pair.pk, content="three")
    assert message.seq == top + 1
    assert seq_counter._counter_repaired is True  # once committed: later seqs cost nothing more


def test_the_repair_seq_command_says_what_it_did(chats):
    top = highest_stored_seq()
    SeqCounter.objects.filter(pk=1).update(value=2)
    out = StringIO()
    call_command("repair_seq", stdout=out)
    assert out.getvalue() == f"The seq counter was 2; raised to {top}.\n"
    out = StringIO()
    call_command("repair_seq", stdout=out)
    assert out.getvalue() == "The seq counter is not below the highest stored seq; nothing to do.\n"
    assert counter() == top


def test_a_bots_kept_event_counts_as_a_stored_seq(chats, alice):
    """bots.stream keeps events under seqs of the counter: the repair never hands them out again."""
    from bots.models import BotEvent

    top = highest_stored_seq()
    BotEvent.objects.create(bot=alice, seq=top + 5, name="friend.added", data={})
    assert highest_stored_seq() == top + 5
    SeqCounter.objects.filter(pk=1).update(value=1)
    assert seq_counter_repair() == (1, top + 5)
