"""Attachments in the Django admin as moderators use it: listed, searched, filtered, opened through a
signed link, read-only, and removed through the service (audited); storage per user on the user list."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.admin import UserAdmin
from accounts.services import friendship_create
from chats.models import Chat, Message
from chats.services import message_send
from imsuite.models import AuditEntry
from media.models import Attachment
from media.signing import media_path
from media.storage import media_storage
from tests.media.conftest import files_exist

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:media_attachment_changelist")


@pytest.fixture
def files(alice, bob, upload) -> dict[str, Attachment]:
    """Alice sends a photo to Bob; Bob has a text file he never sent."""
    friendship_create(user_a=alice, user_b=bob)
    chat = Chat.objects.get(type=Chat.Type.PRIVATE, members__user=bob)
    photo = upload(alice, image=True)
    message_send(actor=alice, chat_id=chat.pk, content="look", attachment_ids=[photo.pk])
    notes = upload(bob, body=b"n" * 2048)
    return {"photo": Attachment.objects.get(pk=photo.pk), "notes": notes}


def listed(staff: Client, **query: str) -> list[Attachment]:
    response = staff.get(CHANGELIST, query)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_changelist_shows_each_attachment_with_a_signed_link(staff, files):
    response = staff.get(CHANGELIST)
    html = response.content.decode()
    assert sorted(a.pk for a in response.context["cl"].result_list) == sorted(a.pk for a in files.values())
    assert "2.0\xa0KB" in html  # sizes are shown for people
    for attachment in files.values():
        assert f'<a href="{media_path(attachment.pk, "file")}"'.replace("&", "&amp;") in html
    opened = staff.get(media_path(files["notes"].pk, "file"))
    assert opened.status_code == 200
    assert b"".join(opened.streaming_content) == b"n" * 2048


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ({"q": "ALICE"}, ["photo"]),
        ({"q": "notes"}, ["notes"]),
        ({"q": "image/png"}, ["photo"]),
        ({"q": "nothing-like-it"}, []),
        ({"kind__exact": "image"}, ["photo"]),
        ({"attached": "yes"}, ["photo"]),
        ({"attached": "no"}, ["notes"]),
    ],
)
def test_search_and_filters(staff, files, query, found):
    assert listed(staff, **query) == [files[name] for name in found]


def test_the_change_page_is_read_only(staff, files):
    photo = files["photo"]
    response = staff.get(reverse("admin:media_attachment_change", args=[photo.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert photo.file in html  # shown, not editable
    assert 'name="file"' not in html
    assert not response.context["has_change_permission"]
    assert staff.get(reverse("admin:media_attachment_add")).status_code == 403


def test_remove_files_action_removes_files_rows_and_the_message_entry_and_is_audited(staff, files, moderator):
    photo, notes = files["photo"], files["notes"]
    response = staff.post(CHANGELIST, {"action": "remove_files", "_selected_action": [photo.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Removed: 1."]
    assert not files_exist(photo)
    assert files_exist(notes)
    assert list(Attachment.objects.values_list("pk", flat=True)) == [notes.pk]
    message = Message.objects.get(pk=photo.message_id)
    assert (message.content, message.attachments) == ("look", [])
    entry = AuditEntry.objects.get(action="attachment.remove")
    assert (entry.actor, entry.target_type, entry.target_id, entry.source) == (
        moderator,
        "attachment",
        photo.pk,
        AuditEntry.Source.ADMIN,
    )
    assert entry.details == {
        "uploader_id": photo.uploader_id,
        "name": "photo.png",
        "size": photo.size,
        "message_id": photo.message_id,
        "chat_id": photo.chat_id,
    }


def test_remove_files_action_reports_a_storage_failure_and_keeps_the_file_to_try_again(
    staff, files, monkeypatch
):
    photo = files["photo"]

    def refuse(name: str) -> None:
        raise OSError("disk says no")

    monkeypatch.setattr(media_storage(), "delete", refuse)
    response = staff.post(CHANGELIST, {"action": "remove_files", "_selected_action": [photo.pk]}, follow=True)
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [
        ("error", f"{photo}: The storage could not remove the file; try again. (SERVICE_UNAVAILABLE)")
    ]
    assert files_exist(photo)
    assert Attachment.objects.filter(pk=photo.pk).exists()
    assert not AuditEntry.objects.filter(action="attachment.remove").exists()


def test_user_list_shows_and_sorts_by_storage(staff, files, alice, bob, moderator):
    column = UserAdmin.list_display.index("storage")
    response = staff.get(reverse("admin:accounts_user_changelist"), {"o": f"-{column}"})
    assert response.status_code == 200
    rows = [(u.username, u.storage_bytes) for u in response.context["cl"].result_list]
    assert files["photo"].size < 2048
    assert rows == [("bob", 2048), ("alice", files["photo"].size), ("mod", 0)]
    assert "2.0\xa0KB" in response.content.decode()
