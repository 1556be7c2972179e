"""PostgreSQL's search index off the send path (chats.search_index): the timers process copies new
messages in seq order and in batches, edits and recalls update the copy in their transaction, and
a search is complete whatever the copy has reached (the tail is read directly)."""

import pytest
from django.db import connection

from accounts.models import User
from chats import search, search_index, services
from chats.models import Message, MessageText, SearchState
from chats.selectors import current_seq
from imsuite.management.commands.runtimers import run_due
from tests.chats.test_api import send
from tests.chats.test_search import found, group, page

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the copied index is PostgreSQL's"),
]


def copies() -> dict[int, str]:
    return dict(MessageText.objects.values_list("message_id", "content"))


def state() -> tuple[int, int]:
    row = SearchState.objects.get(pk=1)
    return row.seq, row.message_id


@pytest.fixture
def team(alice: User, bob: User):
    return group("Team", alice, bob)


@pytest.fixture
def through_the_index(monkeypatch) -> None:
    """A window of one message per chat, so that a search reads the index below it."""
    monkeypatch.setattr(search, "INDEXED_WINDOW_ROWS", 1)
    monkeypatch.setattr(search, "SHORT_SCAN_MIN_PER_CHAT", 1)


def test_sending_writes_no_copy_and_a_round_copies_in_batches(team, alice, monkeypatch):
    search_index.catch_up()  # the first round ever makes the state row, from the first message
    sent = [send(alice, team, f"budget {i}") for i in range(5)]
    seq = services.next_seq()
    system = Message.objects.create(
        chat=team,
        sender=alice,
        content="Bob joined",
        message_type=Message.Type.SYSTEM,
        seq=seq,
        created_seq=seq,
    )
    recalled = send(alice, team, "to be recalled")
    services.message_delete(actor=alice, message_id=recalled.pk)
    assert copies() == {recalled.pk: ""}  # the recall's own write; the sends wrote nothing
    monkeypatch.setattr(search_index, "BATCH", 2)
    assert search_index.catch_up() == 7  # four batches in one round, the last one short
    assert copies() == {**{m.pk: f"budget {i}" for i, m in enumerate(sent)}, recalled.pk: ""}
    assert state() == (current_seq(), recalled.pk)
    assert system.pk not in copies()
    assert search_index.catch_up() == 0  # nothing new


def test_the_index_is_on_the_copy_not_on_the_messages():
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename, indexname FROM pg_indexes WHERE indexdef LIKE '%%gin_trgm_ops%%'")
        assert cursor.fetchall() == [("chats_messagetext", search_index.PG_INDEX)]


def test_a_round_stops_at_its_time_and_the_next_goes_on(team, alice, monkeypatch):
    search_index.catch_up()
    sent = [send(alice, team, f"alpha {i}") for i in range(3)]
    monkeypatch.setattr(search_index, "BATCH", 1)
    assert search_index.catch_up(seconds=0) == 1  # one batch, then its time is up
    assert set(copies()) == {sent[0].pk}
    assert state()[1] == sent[0].pk
    assert search_index.catch_up() == 2
    assert set(copies()) == {m.pk for m in sent}


def test_the_timers_process_runs_the_rounds(team, alice):
    search_index.catch_up()
    message = send(alice, team, "from the timers")
    run_due()
    assert copies()[message.pk] == "from the timers"


def test_edits_reach_the_copy_whether_or_not_it_was_made(team, alice, client_for, through_the_index):
    search_index.catch_up()
    copied = send(alice, team, "quarterly budget")
    filler = send(alice, team, "filler")  # the window: the newest message of the chat
    search_index.catch_up()
    pending = send(alice, team, "weekly budget")
    services.message_edit(actor=alice, message_id=copied.pk, content="quarterly forecast")
    services.message_edit(actor=alice, message_id=pending.pk, content="weekly forecast")
    assert copies()[copied.pk] == "quarterly forecast"
    assert copies()[pending.pk] == "weekly forecast"  # made by the edit; the round leaves it
    me = client_for(alice)
    newest = send(alice, team, "newest")
    assert found(me, "forecast", before=newest.pk) == [pending.pk, copied.pk]
    assert found(me, "budget") == []
    search_index.catch_up()
    assert copies()[pending.pk] == "weekly forecast"
    assert found(me, "forecast") == [pending.pk, copied.pk]
    assert filler.pk in copies()


def test_searches_are_complete_before_the_copy_catches_up(team, alice, bob, client_for, through_the_index):
    search_index.catch_up()
    me = client_for(alice)
    early = [send(alice, team, f"invoice {i}") for i in range(3)]
    search_index.catch_up()
    late = [send(alice, team, f"invoice {i}") for i in range(3, 6)]
    expected = [m.pk for m in reversed(early + late)]
    assert found(me, "invoice") == expected  # three copied, three in the tail
    first = page(me, "invoice", limit=4)
    assert [r["id"] for r in first["results"]] == expected[:4]
    rest = page(me, "invoice", limit=4, before=first["next_before"])
    assert [r["id"] for r in rest["results"]] == expected[4:]
    assert found(me, "invoice 5") == [late[2].pk]  # an indexed term and a short one
    by_bob = send(bob, team, "invoice from bob")
    search_index.catch_up()
    assert found(me, "invoice", sender_id=bob.pk) == [by_bob.pk]  # the copy's page has the sender
    assert found(me, "invoice", before=by_bob.pk, after=early[1].pk) == expected[:4]
    SearchState.objects.filter(pk=1).delete()  # no state at all: everything is the tail
    assert found(me, "invoice") == [by_bob.pk, *expected]
