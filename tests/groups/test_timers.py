"""Timed mutes: a mute whose time is up is ended by the timers process (runtimers) and announced like
a lift, with the original operator; a running mute is left alone. Time is controlled through the
rows' `until`, never by sleeping."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from groups.models import Mute
from groups.services import mutes_expire
from tests.groups.test_services import MEMBERS, build_world, unwrapped

pytestmark = pytest.mark.django_db


def lifted(w, user, operator) -> dict:
    """A group.ban frame announcing the end of a mute (of everyone when user is None)."""
    data = {"group_id": w.gid, "user_id": user and user.pk, "operator_id": operator.pk}
    return {"type": "domain.event", "event": "group.ban", "data": {**data, "duration": 0, "until": None}}


def set_up(w) -> dict[str, Mute]:
    """The world's muted member (muted by the owner) is overdue; the admin's mutes of the target and
    of everyone run on."""
    now = timezone.now()
    Mute.objects.filter(group_id=w.gid, user=w.muted).update(until=now - timedelta(seconds=1))
    return {
        "overdue": Mute.objects.get(group_id=w.gid, user=w.muted),
        "member": Mute.objects.create(
            group_id=w.gid, user=w.target, until=now + timedelta(hours=1), operator=w.admin
        ),
        "everyone": Mute.objects.create(group_id=w.gid, until=now + timedelta(minutes=5), operator=w.admin),
    }


def remaining(w) -> set[int]:
    return set(Mute.objects.filter(group_id=w.gid).values_list("pk", flat=True))


# runtimers closes the database connection between rounds, as a long-running process should; that
# only works outside the test's wrapping transaction, so this test commits for real.
@pytest.mark.django_db(transaction=True)
def test_runtimers_once_ends_overdue_mutes_and_leaves_running_ones(make_user, inbox):
    w = build_world(make_user)
    mutes = set_up(w)
    everyone = [getattr(w, name) for name in (*MEMBERS, "outsider", "candidate", "requester")]
    inbox.listen(*everyone)
    call_command("runtimers", once=True)
    assert remaining(w) == {mutes["member"].pk, mutes["everyone"].pk}
    for user in everyone:
        expected = [lifted(w, w.muted, w.owner)] if user in [getattr(w, n) for n in MEMBERS] else []
        got = [unwrapped(event) for event in inbox.drain(user, wait=0.1)]
        assert got == [(event["event"], event["data"]) for event in expected], user.username


def test_mutes_expire_at_their_until_not_before(make_user, inbox, django_capture_on_commit_callbacks):
    w = build_world(make_user)
    mutes = set_up(w)
    inbox.listen(w.member, w.outsider)
    tick = timedelta(microseconds=1)
    timeline = [  # (now, how many end, what members hear, the mutes left)
        (mutes["everyone"].until - tick, 1, [lifted(w, w.muted, w.owner)], ("member", "everyone")),
        (mutes["everyone"].until, 1, [lifted(w, None, w.admin)], ("member",)),
        (mutes["member"].until - tick, 0, [], ("member",)),
        (mutes["member"].until, 1, [lifted(w, w.target, w.admin)], ()),
    ]
    for now, ended, heard, left in timeline:
        with django_capture_on_commit_callbacks(execute=True):
            assert mutes_expire(now=now) == ended
        assert remaining(w) == {mutes[name].pk for name in left}
        assert inbox.drain(w.member, wait=0.1) == heard
    assert inbox.drain(w.outsider, wait=0.1) == []


def test_an_expired_mute_no_longer_silences_and_nothing_is_left_to_expire(
    make_user, client_for, django_capture_on_commit_callbacks
):
    w = build_world(make_user)
    set_up(w)
    with django_capture_on_commit_callbacks(execute=True):
        assert mutes_expire(now=timezone.now() + timedelta(hours=2)) == 3
        assert mutes_expire(now=timezone.now() + timedelta(hours=2)) == 0
    assert not Mute.objects.exists()
    response = client_for(w.muted).post(f"/api/chats/{w.gid}/messages", {"content": "back"}, format="json")
    assert response.status_code == 201, response.content
