"""The names of the bot dialects (bots.dialects), apart from their code: a reverse endpoint keeps
one, and the services check it without importing the dialects (which render and parse: adapters)."""

DEFAULT = "sandbox"
NAMES = (DEFAULT, "kotori", "onebot11", "onebot11_string")
