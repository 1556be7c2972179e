"""Load the demo data `make run` promises: alice, bob and carol (friends with each other), one group,
one bot, and a staff account for Django admin. Safe to run again: what exists is left alone."""

import os

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services as accounts
from accounts.models import Friendship, User
from chats import services as chats
from groups import services as groups
from groups.models import Group

DEMO_PASSWORD_DEFAULT = "imsuite-demo"
PEOPLE = [
    ("alice", "Alice", "female", 28),
    ("bob", "Bob", "male", 31),
    ("carol", "Carol", "female", 25),
]
GROUP_NAME = "IM-Suite Demo"
BOT_USERNAME = "echo-bot"


class Command(BaseCommand):
    help = "Create the demo users, friendships, group and bot (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        password = os.environ.get("DEMO_PASSWORD", DEMO_PASSWORD_DEFAULT)
        with transaction.atomic():
            people = [self._person(name, nick, sex, age, password) for name, nick, sex, age in PEOPLE]
            alice, bob, carol = people
            for a, b in ((alice, bob), (alice, carol), (bob, carol)):
                if not Friendship.objects.filter(user=a, friend=b).exists():
                    accounts.friendship_create(user_a=a, user_b=b)
            self._staff(password)
            self._bot(alice)
            self._group(alice, bob, carol)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready: alice, bob, carol, admin (password {password!r}).")
        )

    def _person(self, username: str, nickname: str, sex: str, age: int, password: str) -> User:
        user = User.objects.filter(username__iexact=username).first()
        if user is None:
            user = accounts.user_register(
                username=username, password=password, nickname=nickname, sex=sex, age=age
            )
            self.stdout.write(f"created user {username}")
        return user

    def _staff(self, password: str) -> None:
        if not User.objects.filter(username="admin").exists():
            user = accounts.user_register(username="admin", password=password, nickname="Moderator")
            User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
            self.stdout.write("created staff account admin (Django admin at /admin/)")

    def _bot(self, owner: User) -> None:
        if not User.objects.filter(username=BOT_USERNAME).exists():
            bot, token = accounts.bot_create(actor=owner, username=BOT_USERNAME, nickname="Echo Bot")
            self.stdout.write(
                f"created bot {bot.username} owned by {owner.username}; its token (shown once): {token}"
            )

    def _group(self, owner: User, *members: User) -> None:
        if Group.objects.filter(name=GROUP_NAME, owner=owner).exists():
            return
        bot = User.objects.get(username=BOT_USERNAME)
        group = groups.group_create(actor=owner, name=GROUP_NAME, member_ids=[m.pk for m in (*members, bot)])
        chats.message_send(actor=owner, chat_id=group.pk, content="Welcome to IM-Suite! Say hello 👋")
        chats.message_send(actor=members[0], chat_id=group.pk, content="Hello everyone!")
        self.stdout.write(f"created group {GROUP_NAME!r} (id {group.pk})")
