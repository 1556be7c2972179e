"""Media retention (media.retention, run by runtimers): each rule removes what it should (files,
thumbnails and rows) and nothing else, in bounded batches, logged, and a file the storage fails to
remove is tried again next round. Age is set on the rows, never waited for."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import friendship_create, user_set_active
from chats.models import Chat, Message
from chats.services import message_delete, message_send
from imsuite.management.commands import runtimers
from media.models import Attachment
from media.retention import Retention
from media.storage import media_storage
from tests.media.conftest import files_exist

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def chat(alice, bob) -> Chat:
    friendship_create(user_a=alice, user_b=bob)
    return Chat.objects.get(type=Chat.Type.PRIVATE, members__user=bob)


def send(user, chat: Chat, *attachments: Attachment, caption: str = "look") -> Message:
    message, _ = message_send(
        actor=user, chat_id=chat.pk, content=caption, attachment_ids=[a.pk for a in attachments]
    )
    return message


def age(attachment: Attachment, by: timedelta) -> None:
    Attachment.objects.filter(pk=attachment.pk).update(created_at=timezone.now() - by)


def age_message(message: Message, by: timedelta, field: str = "created_at") -> None:
    Message.objects.filter(pk=message.pk).update(**{field: timezone.now() - by})
    # an attachment is never older than the message it was sent in
    Attachment.objects.filter(message=message).update(created_at=timezone.now() - by)


def kept(*attachments: Attachment) -> set[int]:
    """Which of these still have their row (and then their files, checked)."""
    rows = set(Attachment.objects.filter(pk__in=[a.pk for a in attachments]).values_list("pk", flat=True))
    for attachment in attachments:
        assert files_exist(attachment) == (attachment.pk in rows), attachment
    return rows


def run_round() -> int:
    removed, more = Retention().round(timezone.now())
    assert not more
    return removed


def test_uploads_never_attached_go_after_a_day_and_nothing_else(alice, bob, chat, upload):
    old, old_image, fresh = upload(alice), upload(alice, image=True), upload(alice)
    sent = upload(bob, image=True)
    message = send(bob, chat, sent)
    age(old, DAY + timedelta(seconds=1))
    age(old_image, 3 * DAY)
    age(fresh, DAY - timedelta(minutes=1))
    age_message(message, 5 * DAY)  # attached long ago: a live message keeps its files
    assert old_image.thumbnail and sent.thumbnail  # images have a thumbnail, removed with them

    assert run_round() == 2
    assert kept(old, old_image, fresh, sent) == {fresh.pk, sent.pk}
    assert [a["id"] for a in Message.objects.get(pk=message.pk).attachments] == [sent.pk]
    assert run_round() == 0


def test_a_recalled_messages_files_stay_for_the_grace_then_go(alice, bob, chat, upload, settings):
    settings.IMSUITE = {**settings.IMSUITE, "MEDIA_DELETED_GRACE_SECONDS": 3600}
    recalled, recent, live = upload(alice, image=True), upload(alice), upload(alice)
    first, second, third = send(alice, chat, recalled), send(alice, chat, recent), send(alice, chat, live)
    message_delete(actor=alice, message_id=first.pk)
    message_delete(actor=alice, message_id=second.pk)
    assert run_round() == 0  # the sender's own recall keeps the files for the grace period
    assert kept(recalled, recent, live) == {recalled.pk, recent.pk, live.pk}

    age_message(first, timedelta(seconds=3601), "deleted_at")
    age_message(second, timedelta(seconds=3500), "deleted_at")
    age_message(third, 30 * DAY)
    assert run_round() == 1
    assert kept(recalled, recent, live) == {recent.pk, live.pk}
    row = Message.objects.get(pk=first.pk)
    assert (row.is_deleted, row.attachments) == (True, [])


def test_media_retention_days_removes_old_messages_files_and_keeps_their_text(
    alice, bob, chat, upload, settings
):
    old_files = [upload(alice, image=True), upload(alice)]
    young, unset_case = upload(bob), upload(bob)
    old = send(alice, chat, *old_files, caption="holiday pictures")
    recent = send(bob, chat, young, caption="today")
    ancient = send(bob, chat, unset_case)
    age_message(old, timedelta(days=31))
    age_message(recent, timedelta(days=29))
    age_message(ancient, timedelta(days=3650))
    before = {m.pk: (m.content, m.seq, m.message_type) for m in Message.objects.all()}

    assert run_round() == 0  # MEDIA_RETENTION_DAYS unset: media is kept for ever
    assert kept(*old_files, young, unset_case) == {a.pk for a in (*old_files, young, unset_case)}

    settings.IMSUITE = {**settings.IMSUITE, "MEDIA_RETENTION_DAYS": 30}
    assert run_round() == 3
    assert kept(*old_files, young, unset_case) == {young.pk}
    after = {m.pk: (m.content, m.seq, m.message_type) for m in Message.objects.all()}
    assert after == before  # text, seq and type stay: the files are gone, the message is not changed
    lists = dict(Message.objects.values_list("pk", "attachments"))
    assert (lists[old.pk], lists[ancient.pk], [a["id"] for a in lists[recent.pk]]) == ([], [], [young.pk])


def test_a_deactivated_accounts_uploads_follow_the_same_rules(alice, bob, chat, upload, moderator):
    stale, fresh, sent = upload(alice), upload(alice), upload(alice)
    send(alice, chat, sent)
    age(stale, 2 * DAY)
    user_set_active(actor=moderator, user_id=alice.pk, active=False)
    assert run_round() == 1
    assert kept(stale, fresh, sent) == {fresh.pk, sent.pk}  # what she sent stays with the chat


def test_batches_drain_a_backlog_one_tick_at_a_time_then_wait_the_interval(alice, upload):
    backlog = [upload(alice) for _ in range(5)]
    for attachment in backlog:
        age(attachment, 2 * DAY)
    now = [1000.0]
    retention = Retention(batch=2, interval=60.0, clock=lambda: now[0])
    left = []
    for _ in range(3):  # a full batch means more: the next round is due at once
        retention.run_if_due()
        left.append(Attachment.objects.count())
    assert left == [3, 1, 0]
    assert retention.next_at == 1060.0
    age(upload(alice), 2 * DAY)
    now[0] = 1059.9
    assert retention.run_if_due() == 0  # not due: at most one round a minute when there is no backlog
    assert Attachment.objects.count() == 1
    now[0] = 1060.0
    assert retention.run_if_due() == 1
    assert Attachment.objects.count() == 0


def test_each_round_that_removes_something_logs_one_line(alice, bob, chat, upload, caplog, settings):
    settings.IMSUITE = {**settings.IMSUITE, "MEDIA_DELETED_GRACE_SECONDS": 0}
    stale = upload(alice, body=b"x" * 1000)
    age(stale, 2 * DAY)
    message = send(bob, chat, upload(bob, body=b"y" * 500))
    message_delete(actor=bob, message_id=message.pk)
    caplog.set_level(logging.INFO, logger="media.retention")
    run_round()
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "media.retention"] == [
        (
            "INFO",
            "media retention: removed 1 never attached, 1 of recalled messages: 1500 bytes",
        )
    ]
    caplog.clear()
    run_round()
    assert [r for r in caplog.records if r.name == "media.retention"] == []


def test_a_storage_failure_is_logged_and_retried_and_never_stops_the_round(
    alice, upload, caplog, monkeypatch
):
    broken, fine, image = upload(alice), upload(alice), upload(alice, image=True)
    for attachment in (broken, fine, image):
        age(attachment, 2 * DAY)
    storage = media_storage()
    delete = storage.delete

    def refuse(name: str) -> None:
        if name == broken.file:
            raise OSError("disk says no")
        delete(name)

    monkeypatch.setattr(storage, "delete", refuse)
    caplog.set_level(logging.INFO)
    assert run_round() == 2
    assert kept(broken, fine, image) == {broken.pk}
    lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("media")]
    assert lines[-1] == (
        "media.retention",
        "WARNING",
        f"media retention: removed 2 never attached: {fine.size + image.size} bytes;"
        " 1 could not be removed (tried again next round)",
    )
    assert any(broken.file in message and level == "ERROR" for _, level, message in lines[:-1])

    monkeypatch.setattr(storage, "delete", delete)
    assert run_round() == 1
    assert kept(broken) == set()


def test_the_timers_process_runs_retention(alice, upload, monkeypatch):
    stale, fresh = upload(alice), upload(alice)
    age(stale, 2 * DAY)
    monkeypatch.setattr(runtimers, "RETENTION", Retention())
    assert runtimers.run_due() == 0  # no mute or call ended; retention logs its own
    assert kept(stale, fresh) == {fresh.pk}
    age(fresh, 2 * DAY)
    runtimers.run_due()  # within the minute: not due again
    assert kept(fresh) == {fresh.pk}


def test_a_failed_round_is_logged_and_waits_the_interval(alice, upload, monkeypatch, caplog):
    age(upload(alice), 2 * DAY)

    def broken(rows: list) -> list:
        raise RuntimeError("database went away")

    monkeypatch.setattr("media.retention.files_remove", broken)
    now = [500.0]
    monkeypatch.setattr(runtimers, "RETENTION", Retention(clock=lambda: now[0]))
    assert runtimers.run_due() == 0
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == runtimers.__name__] == [
        ("ERROR", "media retention: a round failed; trying again in a minute")
    ]
    assert runtimers.RETENTION.next_at == 560.0
