"""The Django admin as moderators use it: every page opens, searches find, actions go through services."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from accounts.models import BotToken, FriendRequest, Friendship, Notification, User, UserSession
from accounts.services import bot_create, friendship_create, notification_send
from bots.models import Bot, BotConnection, ReverseEndpoint
from bots.services import (
    forward_connection_opened,
    reverse_endpoint_attempted,
    reverse_endpoint_connected,
    reverse_endpoint_create,
)
from calls.models import Call
from chats.models import Chat, Message
from chats.services import message_send
from groups.models import Group, GroupBan, GroupMember, InviteLink, JoinRequest, Mute, Notice
from groups.services import group_create
from imsuite.models import AuditEntry
from media.models import Attachment
from previews.models import LinkPreview
from push.models import PushSubscription
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(alice, bob, carol, moderator) -> dict:
    """One row of every model the admin shows, made through services where they exist."""
    friendship_create(user_a=alice, user_b=bob)
    bot, _token = bot_create(actor=alice, username="alicebot")
    group = group_create(actor=alice, name="Team", member_ids=[bob.pk])
    private = Chat.objects.get(type=Chat.Type.PRIVATE, members__user=bob)
    hello, _ = message_send(actor=alice, chat_id=private.pk, content="hello there")
    other, _ = message_send(actor=bob, chat_id=group.pk, content="good morning")
    until = timezone.now() + timedelta(hours=1)
    return {
        User: alice,
        BotToken: BotToken.objects.get(bot=bot),
        Friendship: Friendship.objects.get(user=alice, friend=bob),
        FriendRequest: FriendRequest.objects.create(from_user=carol, to_user=alice, message="hi"),
        Message: hello,
        "other": other,
        "bot": bot,
        Chat: Chat.objects.get(pk=group.pk),
        Group: group,
        Mute: Mute.objects.create(group=group, user=bob, until=until, operator=alice),
        Notice: Notice.objects.create(group=group, author=alice, content="Be kind"),
        JoinRequest: JoinRequest.objects.create(group=group, user=carol, operator=carol, comment="let me in"),
        GroupBan: GroupBan.objects.create(group=group, user=carol, operator=alice, reason="spam"),
        InviteLink: InviteLink.objects.create(group=group, token="t0ken", creator=alice, max_uses=3),
        Call: Call.objects.create(call_id="call-1", caller=alice, callee=bob, call_type=Call.Type.AUDIO),
        Notification: notification_send(actor=moderator, title="Hello", message="Welcome", user_ids=[bob.pk]),
        GroupMember: GroupMember.objects.get(chat_id=group.pk, user=bob),
        AuditEntry: AuditEntry.objects.create(
            actor=moderator, action="member.kick", target_type="user", target_id=1
        ),
        ReverseEndpoint: reverse_endpoint_create(actor=alice, bot_id=bot.pk, url="ws://127.0.0.1:9/bot"),
        Bot: Bot.objects.get(pk=bot.pk),
        BotConnection: _forward(bot),
        # The pages never read the bytes (tests/media/test_admin.py stores real ones).
        Attachment: Attachment.objects.create(
            uploader=alice, kind="file", name="notes.txt", size=5, mime="text/plain", file="u/2026/12/0"
        ),
        PushSubscription: PushSubscription.objects.create(
            user=bob, kind="unifiedpush", endpoint="https://push.example/up/1", last_error="HTTP 503"
        ),
        LinkPreview: LinkPreview.objects.create(
            url_hash="0" * 64,
            url="https://example.org/",
            title="Example",
            status="ok",
            fetched_at=timezone.now(),
        ),
        UserSession: UserSession.objects.create(
            sid="sid-admin", user=alice, browser="Chrome", system="Linux", last_used_at=timezone.now()
        ),
    }


def _forward(bot: User) -> BotConnection:
    forward_connection_opened(bot=bot, connection="c-admin", dialect="sandbox", address="203.0.113.5:4711")
    return BotConnection.objects.get(connection="c-admin")


MODELS = [
    User,
    BotToken,
    Friendship,
    FriendRequest,
    Notification,
    Message,
    Chat,
    Group,
    GroupMember,
    Mute,
    Notice,
    JoinRequest,
    GroupBan,
    InviteLink,
    Call,
    AuditEntry,
    ReverseEndpoint,
    Bot,
    BotConnection,
    Attachment,
    PushSubscription,
    UserSession,
    LinkPreview,
]


def test_every_model_of_ours_in_admin_is_covered():
    ours = {"accounts", "chats", "groups", "calls", "imsuite", "bots", "media", "push", "previews"}
    assert {model for model in admin.site._registry if model._meta.app_label in ours} == set(MODELS)


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_page_opens(staff, world, model):
    listing = staff.get(admin_url(model, "changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list)  # the row made above is listed
    detail = staff.get(admin_url(model, "change", world[model].pk))
    assert detail.status_code == 200
    assert detail.context["original"] == world[model]


@pytest.mark.parametrize(
    ("term", "found"),
    [("hello", [Message]), ("BOB", ["other"]), ("morning", ["other"]), ("nothing-like-it", [])],
)
def test_message_search_by_content_and_sender(staff, world, term, found):
    response = staff.get(admin_url(Message, "changelist"), {"q": term})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [world[key] for key in found]


def test_message_search_by_chat_id(staff, world):
    for chat, message in ((world[Chat], world["other"]), (world[Message].chat, world[Message])):
        response = staff.get(admin_url(Message, "changelist"), {"q": str(chat.pk)})
        assert list(response.context["cl"].result_list) == [message]


def test_recall_action_goes_through_message_delete(
    staff, world, moderator, alice, bob, inbox, django_capture_on_commit_callbacks
):
    message = world[Message]
    inbox.listen(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            admin_url(Message, "changelist"), {"action": "recall", "_selected_action": [message.pk]}
        )
    assert response.status_code == 302
    row = Message.objects.get(pk=message.pk)
    assert (row.content, row.deleted_by_id, row.is_deleted) == ("", moderator.pk, True)
    assert Message.objects.get(pk=world["other"].pk).content == "good morning"
    assert [(e["event"], e["data"]["deleted_by"]) for e in inbox.drain(alice)] == [
        ("message.delete", moderator.pk)
    ]


def test_deactivate_action_deactivates_user_and_bots(staff, world, alice, bob):
    response = staff.post(
        admin_url(User, "changelist"), {"action": "deactivate", "_selected_action": [alice.pk]}
    )
    assert response.status_code == 302
    assert dict(
        User.objects.filter(pk__in=[alice.pk, world["bot"].pk, bob.pk]).values_list("username", "is_active")
    ) == {
        "alice": False,
        "alicebot": False,
        "bob": True,
    }


def test_add_user_through_the_admin_form(staff):
    assert staff.get(admin_url(User, "add")).status_code == 200
    response = staff.post(
        admin_url(User, "add"),
        {"username": "dave", "password1": PASSWORD, "password2": PASSWORD},
    )
    user = User.objects.get(username="dave")
    assert response.status_code == 302
    assert response.url == admin_url(User, "change", user.pk)
    assert (user.nickname, user.is_bot, user.is_staff, user.check_password(PASSWORD)) == (
        "dave",
        False,
        False,
        True,
    )


REQUIRED = ["This field is required."]


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        (
            {"username": "ab"},
            {"username": ["A username is 3 to 32 letters, digits, dots, dashes or underscores."]},
        ),
        ({"username": "ALICE"}, {"username": ["This username is taken."]}),
        (
            {"username": "erin", "usable_password": "false", "password1": "", "password2": ""},
            {"password1": REQUIRED, "password2": REQUIRED},
        ),
        (
            {"username": "erin", "password1": "password", "password2": "password"},
            {"password2": ["This password is too common."]},
        ),
    ],
)
def test_add_user_refusals_show_on_the_form(staff, alice, form, errors):
    response = staff.post(admin_url(User, "add"), {"password1": PASSWORD, "password2": PASSWORD, **form})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    assert sorted(User.objects.values_list("username", flat=True)) == ["alice", "mod"]


def test_edit_nickname_through_the_admin_form(staff, alice):
    assert staff.get(admin_url(User, "change", alice.pk)).status_code == 200
    form = {
        "username": "alice",
        "nickname": "Ally",
        "avatar_url": "",
        "sex": "female",
        "age": "28",
        "bio": "",
        "email": "",
    }
    response = staff.post(admin_url(User, "change", alice.pk), form)
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.nickname, alice.sex, alice.age, alice.is_active) == ("Ally", "female", 28, True)


@pytest.mark.parametrize("who", [None, "alice"])
def test_non_staff_is_sent_to_login(request, client, who):
    if who:
        client.force_login(request.getfixturevalue(who))
    for url in (reverse("admin:index"), admin_url(Message, "changelist")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url == f"{reverse('admin:login')}?next={url}"


def test_group_page_lists_members_with_role(staff, world, alice, bob):
    response = staff.get(admin_url(Group, "change", world[Group].pk))
    html = response.content.decode()
    until = world[Mute].until
    assert "<tr><td>alice</td><td>owner</td><td>0</td><td></td><td></td></tr>" in html
    assert f"<tr><td>bob</td><td>member</td><td>0</td><td></td><td>{until}</td></tr>" in html
    assert html.index("<td>alice</td>") < html.index("<td>bob</td>")
    assert "<td>carol</td>" not in html


def test_reverse_endpoint_refusal_and_last_error_show_in_admin(staff, world, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    url = "ws://169.254.169.254/latest/meta-data"
    form = {"bot": world["bot"].pk, "url": url, "access_token": "", "dialect": "sandbox"}
    response = staff.post(admin_url(ReverseEndpoint, "add"), form, follow=True)
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [
        (
            "error",
            "address_not_allowed: 169.254.169.254 is not a public address (see OUTBOUND_ALLOWED_NETWORKS)"
            " (VALIDATION_ERROR)",
        )
    ]
    assert response.redirect_chain == [(admin_url(ReverseEndpoint, "changelist"), 302)]
    assert not ReverseEndpoint.objects.filter(url=url).exists()
    assert not LogEntry.objects.filter(object_repr__contains="169.254").exists()
    ReverseEndpoint.objects.filter(pk=world[ReverseEndpoint].pk).update(
        last_error="redirect_not_followed: answered 302 to ws://10.0.0.1/", last_error_at=timezone.now()
    )
    listing = staff.get(admin_url(ReverseEndpoint, "changelist"))
    assert "redirect_not_followed: answered 302 to ws://10.0.0.1/" in listing.content.decode()


def test_bot_page_shows_its_connections_and_endpoints(staff, world):
    bot = world["bot"]
    BotConnection.objects.filter(pk=world[BotConnection].pk).update(
        last_complaint="a frame that is no action: {}", last_complaint_at=timezone.now()
    )
    opened = BotConnection.objects.get(pk=world[BotConnection].pk)
    gone = BotConnection.objects.create(
        bot=bot, connection="c-killed", dialect="kotori", address="198.51.100.7:1"
    )
    up = world[ReverseEndpoint]
    reverse_endpoint_connected(endpoint_id=up.pk, connected=True)
    down = reverse_endpoint_create(
        actor=world[User], bot_id=bot.pk, url="ws://127.0.0.1:9/down", dialect="sandbox"
    )
    reverse_endpoint_attempted(endpoint_id=down.pk, error="refused")
    up.refresh_from_db()
    down.refresh_from_db()
    html = staff.get(admin_url(Bot, "change", bot.pk)).content.decode()
    rows = [
        f"<tr><td>sandbox</td><td>{opened.opened_at}</td><td>203.0.113.5:4711</td><td>yes</td>"
        f"<td>a frame that is no action: {{}}</td><td>{opened.last_complaint_at}</td></tr>",
        f"<tr><td>kotori</td><td>{gone.opened_at}</td><td>198.51.100.7:1</td><td>no (its process ended)</td>"
        "<td></td><td></td></tr>",
        f"<tr><td>ws://127.0.0.1:9/bot</td><td>sandbox</td><td>since {up.connected_at}</td><td></td><td></td>"
        "<td></td><td>0</td></tr>",
        f"<tr><td>ws://127.0.0.1:9/down</td><td>sandbox</td><td>no</td><td>refused</td>"
        f"<td>{down.last_error_at}</td><td></td><td>0</td></tr>",
    ]
    for row in rows:
        assert row in html
    listing = staff.get(admin_url(Bot, "changelist")).content.decode()
    assert '<td class="field-connections">2</td>' in listing  # recorded; the bot's page says which are open
    assert '<td class="field-endpoints">2</td>' in listing
    connections = staff.get(admin_url(BotConnection, "changelist")).content.decode()
    assert connections.count('alt="True"') == 1 and connections.count('alt="False"') == 1
    endpoints = staff.get(admin_url(ReverseEndpoint, "changelist")).content.decode()
    assert endpoints.count('alt="True"') == 1 and endpoints.count('alt="False"') == 1
