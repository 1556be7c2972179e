"""The LinkPreview admin: a moderator clears previews with the action (through the service: the
messages lose them, their chats are told); the rows cannot be added, changed or deleted by hand."""

import pytest
from django.urls import reverse

from chats import services as chat_services
from chats.models import Message
from imsuite.models import AuditEntry
from previews.models import LinkPreview
from previews.services import previews_round

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:previews_linkpreview_changelist")


def test_the_clear_action_goes_through_the_service(staff, alice, bob, pages, moderator):
    chat = chat_services.private_chat_ensure(user_a=alice, user_b=bob)
    message, _ = chat_services.message_send(actor=alice, chat_id=chat.pk, content=f"{pages.base}/plain")
    previews_round()
    row = LinkPreview.objects.get()
    listing = staff.get(CHANGELIST)
    assert listing.status_code == 200 and [p.message_count for p in listing.context["cl"].result_list] == [1]
    answer = staff.post(CHANGELIST, {"action": "clear", "_selected_action": [row.pk]}, follow=True)
    assert answer.status_code == 200
    assert [str(m) for m in answer.context["messages"]] == ["Cleared: 1."]
    assert LinkPreview.objects.get().status == "cleared"
    assert Message.objects.get(pk=message.pk).link_previews is None
    assert AuditEntry.objects.filter(action="link_preview.clear", actor=moderator).count() == 1


def test_rows_are_not_written_by_hand(staff, pages, alice, bob):
    chat = chat_services.private_chat_ensure(user_a=alice, user_b=bob)
    chat_services.message_send(actor=alice, chat_id=chat.pk, content=f"{pages.base}/plain")
    previews_round()
    row = LinkPreview.objects.get()
    assert staff.get(reverse("admin:previews_linkpreview_add")).status_code == 403
    assert staff.get(reverse("admin:previews_linkpreview_delete", args=[row.pk])).status_code == 403
    change = staff.post(reverse("admin:previews_linkpreview_change", args=[row.pk]), {"title": "changed"})
    assert change.status_code == 403 and LinkPreview.objects.get().title == "Only a title"
