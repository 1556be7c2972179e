"""Raise the seq counter to the highest stored seq, e.g. after restoring a backup. Every process
also does it before handing out its first seq; this is for an operator who wants to know."""

from django.core.management.base import BaseCommand

from chats.seq_counter import seq_counter_repair


class Command(BaseCommand):
    help = "Raise the seq counter to the highest stored seq if it is below it."

    def handle(self, *args: object, **options: object) -> None:
        repaired = seq_counter_repair()
        if repaired is None:
            self.stdout.write("The seq counter is not below the highest stored seq; nothing to do.")
        else:
            self.stdout.write("The seq counter was {}; raised to {}.".format(*repaired))
