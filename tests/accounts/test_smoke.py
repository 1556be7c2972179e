import pytest

from chats import services as chat_services
from accounts import services


@pytest.mark.django_db
def test_bot_create_publishes_after_commit(alice, inbox, django_capture_on_commit_callbacks):
    inbox.listen(alice)
    with django_capture_on_commit_callbacks(execute=True):
        bot, token = services.bot_create(actor=alice, username="robo", nickname="Robo")
    events = inbox.drain(alice)
    assert [e["event"] for e in events] == ["friend.added"]
    assert events[0]["data"] == {"user_id": alice.pk, "friend_id": bot.pk}
    assert services.bot_authenticate(token) == bot
    chat = chat_services.private_chat_ensure(user_a=alice, user_b=bot)
    assert sorted(chat.members.values_list("user_id", flat=True)) == sorted([alice.pk, bot.pk])
