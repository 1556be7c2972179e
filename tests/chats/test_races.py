"""Races between message changes: an edit and a delete of the same message, forced to interleave.

The edit is held between its checks and its write (in clean_content) until the delete, running in
a thread of its own, has either committed or reached the point where it must wait for the edit's
lock (its row lock on PostgreSQL, the write lock of BEGIN IMMEDIATE on SQLite): once there, it can
no longer commit before the edit does. Without the lock the delete commits in between and the edit
then wrote new text over a deleted row, announced as not deleted."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from accounts.services import friendship_create
from chats import services
from chats.models import Chat, Message

pytestmark = pytest.mark.django_db(transaction=True)
WAIT_SECONDS = 20  # a bound, never reached when the code is right


def in_thread(work: Callable[[], Any], outcome: dict[str, Any], key: str) -> threading.Thread:
    """Run work on a database connection of its own; its result (or error) lands in outcome[key]."""

    def run() -> None:
        try:
            outcome[key] = work()
        except Exception as exc:  # reported by the test's assertions
            outcome[key] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_delete_racing_an_edit_leaves_the_message_deleted_and_says_so(alice, bob, inbox, monkeypatch):
    friendship_create(user_a=alice, user_b=bob)
    chat = Chat.objects.get(type=Chat.Type.PRIVATE)
    message, _ = services.message_send(actor=alice, chat_id=chat.pk, content="first words")
    inbox.listen(alice, bob)
    outcome: dict[str, Any] = {}
    at_lock = threading.Event()
    deleted = threading.Event()

    def mark_the_wait(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "FOR UPDATE" in sql or sql.startswith("BEGIN"):
            at_lock.set()
        return execute(sql, params, many, context)

    def delete() -> Message:
        try:
            with connection.execute_wrapper(mark_the_wait):
                return services.message_delete(actor=alice, message_id=message.pk)
        finally:
            deleted.set()

    real_clean = services.clean_content
    deleting: list[threading.Thread] = []

    def edit_held_between_check_and_write(content: Any, message_type: str) -> str:
        deleting.append(in_thread(delete, outcome, "delete"))
        for _ in range(WAIT_SECONDS * 20):  # bounded: until the delete committed or must wait for us
            if deleted.is_set() or at_lock.wait(0.05):
                break
        return real_clean(content, message_type)

    monkeypatch.setattr(services, "clean_content", edit_held_between_check_and_write)
    edit = lambda: services.message_edit(actor=alice, message_id=message.pk, content="second words")  # noqa: E731
    in_thread(edit, outcome, "edit").join(WAIT_SECONDS)
    deleting[0].join(WAIT_SECONDS)
    assert not isinstance(outcome["edit"], Exception)
    assert not isinstance(outcome["delete"], Exception)

    # The edit held the row: the delete waited for its commit, then erased the new text.
    row = Message.objects.get(pk=message.pk)
    assert (row.content, row.deleted_by_id, row.is_deleted) == ("", alice.pk, True)
    assert outcome["edit"].content == "second words"
    # Each is published after its own commit, from its own thread: they may arrive either way
    # round; their seqs order them (clients and the hub apply changes in seq order).
    events = sorted(inbox.drain(bob), key=lambda event: event["data"]["seq"])
    assert sorted(inbox.drain(alice), key=lambda event: event["data"]["seq"]) == events
    assert [event["event"] for event in events] == ["message.edit", "message.delete"]
    edited, gone = (event["data"] for event in events)
    assert (edited["message"]["content"], edited["message"]["is_deleted"]) == ("second words", False)
    assert edited["seq"] < gone["seq"] == row.seq  # a client applying them in seq order ends deleted
    assert (gone["message_id"], gone["deleted_by"]) == (message.pk, alice.pk)
