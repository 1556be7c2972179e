"""A send batch's rows outside any transaction of the caller, as a database thread stores them
(chats.message_rows): on PostgreSQL the chats' touch, the seqs and the insert are one autocommitted
statement; a clash in it leaves nothing behind and the batch goes one message at a time; a missing
or lagging counter is mended before the first seq."""

import logging
from typing import Any

import pytest
from django.db import connection
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chats import message_rows, sending, seq_counter
from chats.models import Chat, Message, SeqCounter
from chats.sending import SendRequest, message_send_many
from chats.seq_counter import highest_stored_seq

from .test_sending import counter, rows, stored

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_state")]


def test_a_plain_batch_is_stored_by_one_statement_and_numbered_from_the_counter(
    pair, alice, bob, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(seq_counter, "_counter_repaired", True)  # the process's first check is behind it
    message_send_many([SendRequest(bob, pair.pk, "the counter row exists")])
    before = counter()
    assert not connection.in_atomic_block  # as in a database thread: autocommit
    with CaptureQueriesContext(connection) as queries:
        results = message_send_many(
            [
                SendRequest(alice, pair.pk, "one", client_msg_id="a-1"),
                SendRequest(bob, pair.pk, "two"),
                SendRequest(alice, pair.pk, "three"),
            ]
        )
    messages = [stored(result) for result in results]
    assert [(m.content, m.seq, m.created_seq) for m in messages] == [
        ("one", before + 1, before + 1),
        ("two", before + 2, before + 2),
        ("three", before + 3, before + 3),
    ]
    assert [result[0].pk for result in results] == [m.pk for m in messages]
    assert [result[0].seq for result in results] == [m.seq for m in messages]
    assert counter() == before + 3
    assert Chat.objects.get(pk=pair.pk).last_message_at == messages[0].created_at
    writes = [q["sql"] for q in queries if q["sql"].startswith(("INSERT", "UPDATE", "WITH"))]
    if connection.vendor == "postgresql":
        assert len(writes) == 1
        assert writes[0].startswith("WITH touched AS (UPDATE chats_chat SET last_message_at")
        assert not [q for q in queries if "SAVEPOINT" in q["sql"]]
    else:  # SQLite: the touch, the counter and the insert in one transaction
        assert len(writes) == 3


def test_a_clash_outside_a_transaction_leaves_nothing_and_goes_one_at_a_time(
    pair, alice, bob, monkeypatch: pytest.MonkeyPatch
):
    original, _ = message_send_many([SendRequest(alice, pair.pk, "stored elsewhere", client_msg_id="dup")])[0]
    before = counter()
    # the retry lookup misses it, as if another batch had stored it after the lookup
    monkeypatch.setattr(sending, "_messages_by_client_id", lambda keys: [])
    results = message_send_many(
        [
            SendRequest(bob, pair.pk, "b1"),
            SendRequest(alice, pair.pk, "the race", client_msg_id="dup"),
            SendRequest(bob, pair.pk, "b2"),
        ]
    )
    assert (results[1][0].pk, results[1][1]) == (original.pk, False)
    b1, b2 = stored(results[0]), stored(results[2])
    assert (b1.seq, b2.seq) == (before + 1, before + 2)  # the failed statement took no seq
    assert counter() == before + 2
    assert rows() == [
        (pair.pk, alice.pk, "stored elsewhere", "text", None, "dup"),
        (pair.pk, bob.pk, "b1", "text", None, None),
        (pair.pk, bob.pk, "b2", "text", None, None),
    ]


def test_a_missing_counter_row_starts_at_the_highest_stored_seq(pair, alice, bob):
    message_send_many([SendRequest(alice, pair.pk, "before")])
    top = highest_stored_seq()
    SeqCounter.objects.all().delete()
    results = message_send_many([SendRequest(bob, pair.pk, "x"), SendRequest(alice, pair.pk, "y")])
    assert [stored(result).seq for result in results] == [top + 1, top + 2]
    assert counter() == top + 2
    assert Message.objects.filter(content__in=["x", "y"]).count() == 2  # the first attempt inserted none


def test_a_lagging_counter_is_raised_before_the_processes_first_seq(
    pair, alice, monkeypatch: pytest.MonkeyPatch, caplog: Any
):
    message_send_many([SendRequest(alice, pair.pk, "before"), SendRequest(alice, pair.pk, "and")])
    top = highest_stored_seq()
    SeqCounter.objects.filter(pk=1).update(value=top - 1)
    monkeypatch.setattr(seq_counter, "_counter_repaired", False)  # as in a process just started
    with caplog.at_level(logging.WARNING, logger="chats.seq_counter"):
        results = message_send_many([SendRequest(alice, pair.pk, "after")])
    assert stored(results[0]).seq == top + 1
    assert seq_counter._counter_repaired is True  # committed at once: later batches skip the check
    assert f"the seq counter was {top - 1}, below the highest stored seq: raised to {top}" in caplog.text


def test_new_message_is_what_message_init_makes(alice, pair):
    """new_message fills the instance's __dict__ instead of running Model.__init__: the same column
    values, defaults included, an unsaved state, and the sender cached (no query to read it)."""
    moment = timezone.now()
    values = {
        "chat_id": pair.pk,
        "content": "hi",
        "message_type": "text",
        "attachments": [{"id": 1}],
        "reply_to_id": None,
        "client_msg_id": "c-1",
        "created_at": moment,
        "mentions": [alice.pk],
        "forwarded_from": None,
    }
    made, expected = message_rows.new_message(alice, **values), Message(sender=alice, **values)
    names = [field.attname for field in Message._meta.concrete_fields]
    assert [getattr(made, name) for name in names] == [getattr(expected, name) for name in names]
    assert (made._state.adding, made._state.db) == (True, None)
    with CaptureQueriesContext(connection) as queries:
        assert made.sender is alice
    assert len(queries) == 0
    assert made.pk is None and made.seq == 0 and made.is_edited is False and made.reactions is None


def test_message_has_nothing_that_new_message_would_skip():
    """What Model.__init__ does and new_message does not: signals to receivers of pre_init and
    post_init, and descriptors that do more than keep a column's value (a file, a generic key)."""
    assert not pre_init.has_listeners(Message)
    assert not post_init.has_listeners(Message)
    plain = (DeferredAttribute, ForeignKeyDeferredAttribute)
    assert all(type(Message.__dict__[field.attname]) in plain for field in Message._meta.concrete_fields)
