"""The transactional tests' teardown (tests.fast_flush) leaves every table empty but migrate's."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType

from chats import services as chat_services
from chats.models import Message
from tests.db_state import whole_database
from tests.fast_flush import KEPT, _empty


def migrates_rows() -> tuple[list[tuple[int, str, str]], int]:
    return list(ContentType.objects.values_list("pk", "app_label", "model")), Permission.objects.count()


@pytest.mark.django_db(transaction=True)
def test_every_table_is_emptied_and_the_content_types_and_permissions_are_kept(alice, bob):
    chat = chat_services.private_chat_ensure(user_a=alice, user_b=bob)
    chat_services.message_send(actor=alice, chat_id=chat.pk, content="hello")
    kept = migrates_rows()
    assert Message.objects.count() == 1 and kept[1] > 0

    _empty("default")

    left = {table: rows for table, rows in whole_database().items() if rows and table not in KEPT}
    assert left == {}
    assert migrates_rows() == kept
