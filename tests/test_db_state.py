"""The authorization tests' "nothing changed" check sees a change in any table."""

import pytest

from accounts.models import User
from imsuite.models import AuditEntry
from tests.db_state import assert_unchanged, whole_database

pytestmark = pytest.mark.django_db


def test_a_change_anywhere_is_named(alice: User) -> None:
    before = whole_database()
    assert_unchanged(before)
    User.objects.filter(pk=alice.pk).update(bio="changed")
    AuditEntry.objects.create(action="x", target_type="user", target_id=alice.pk)
    with pytest.raises(AssertionError, match=r"\['accounts_user', 'imsuite_auditentry'\]"):
        assert_unchanged(before)
