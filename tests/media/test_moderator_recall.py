"""A site moderator's recall takes a message's files down for everyone at once (after the recall
commits); the sender's own recall, or a group owner's, leaves them for the grace period."""

import logging

import pytest
from django.test import Client
from django.urls import reverse

from accounts.services import friendship_create
from chats.models import Message
from chats.services import message_delete, message_send
from groups.services import group_create
from media.models import Attachment
from media.storage import media_storage
from tests.media.conftest import files_exist

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(alice, bob, upload) -> tuple[Message, list[Attachment]]:
    """Bob sends a photo and a file to Alice's group."""
    friendship_create(user_a=alice, user_b=bob)
    group = group_create(actor=alice, name="Team", member_ids=[bob.pk])
    files = [upload(bob, image=True), upload(bob)]
    message, _ = message_send(actor=bob, chat_id=group.pk, content="", attachment_ids=[a.pk for a in files])
    return message, files


def test_a_moderators_recall_in_admin_removes_the_files_at_once(
    sent, moderator, django_capture_on_commit_callbacks
):
    message, files = sent
    staff = Client()
    staff.force_login(moderator)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            reverse("admin:chats_message_changelist"), {"action": "recall", "_selected_action": [message.pk]}
        )
    assert response.status_code == 302
    assert Message.objects.get(pk=message.pk).deleted_by == moderator
    assert not Attachment.objects.filter(pk__in=[a.pk for a in files]).exists()
    assert [files_exist(a) for a in files] == [False, False]


@pytest.mark.parametrize("who", ["bob", "alice"], ids=["sender", "group owner"])
def test_other_recalls_keep_the_files_for_the_grace_period(
    request, sent, who, django_capture_on_commit_callbacks
):
    message, files = sent
    with django_capture_on_commit_callbacks(execute=True):
        message_delete(actor=request.getfixturevalue(who), message_id=message.pk)
    assert Message.objects.get(pk=message.pk).is_deleted
    assert Attachment.objects.filter(pk__in=[a.pk for a in files]).count() == 2
    assert [files_exist(a) for a in files] == [True, True]


def test_a_storage_failure_does_not_undo_the_recall(
    sent, moderator, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    message, files = sent

    def refuse(name: str) -> None:
        raise OSError("disk says no")

    monkeypatch.setattr(media_storage(), "delete", refuse)
    caplog.set_level(logging.ERROR, logger="media.services")
    with django_capture_on_commit_callbacks(execute=True):
        message_delete(actor=moderator, message_id=message.pk)
    assert Message.objects.get(pk=message.pk).is_deleted
    assert Attachment.objects.filter(pk__in=[a.pk for a in files]).count() == 2  # retention tries again
    tried = sorted(name for a in files for name in (a.file, a.thumbnail) if name)
    assert len(tried) == 3  # the photo's thumbnail too
    assert sorted(r.getMessage() for r in caplog.records) == [f"media: could not delete {n}" for n in tried]
