"""The admin shows a message's forward mark and pin, and a chat's pins."""

from types import SimpleNamespace

import pytest
from django.urls import reverse

from chats import pins
from chats.forwarding import message_forward
from tests.chats.forward_pin_world import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_user) -> SimpleNamespace:
    return build_world(make_user)


def test_message_page_shows_forwarded_from_and_pin(world, client):
    w = world
    [(_, (forward, _))] = message_forward(actor=w.admin, message_id=w.hello.pk, chat_ids=[w.gid])
    pin = pins.message_pin(actor=w.owner, message_id=forward.pk)
    client.force_login(w.moderator)
    page = client.get(reverse("admin:chats_message_change", args=[forward.pk])).content.decode()
    assert f"message {w.hello.pk} of chat {w.gid} by Member (user {w.member.pk})" in page
    assert f"pinned by owner at {pin.pinned_at:%Y-%m-%d %H:%M:%S} UTC" in page
    original = client.get(reverse("admin:chats_message_change", args=[w.hello.pk])).content.decode()
    assert "by Member (user" not in original and "pinned by" not in original


def test_chat_page_lists_its_pins(world, client):
    w = world
    pins.message_pin(actor=w.admin, message_id=w.hello.pk)
    client.force_login(w.moderator)
    response = client.get(reverse("admin:chats_chat_change", args=[w.gid]))
    assert response.status_code == 200
    [formset] = [f for f in response.context["inline_admin_formsets"] if f.formset.model.__name__ == "Pin"]
    assert [(p.message_id, p.pinned_by_id) for p in formset.formset.queryset] == [(w.hello.pk, w.admin.pk)]
