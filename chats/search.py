"""Message search (issue 19): the messages a person can read, newest first, with a snippet.

A query is whitespace-separated terms that must all occur in the content (AND), case-insensitive,
as substrings anywhere (Chinese, Japanese and Korean need no word segmentation). The substring
index (chats.search_index) serves each term it can: on PostgreSQL a term with a run of 3 or more
letters or digits (pg_trgm makes no trigram of less), on SQLite a term of 3 or more characters
(FTS5 trigram). The other terms are plain substring tests on the rows the index found.

A query of short terms only (1-2 characters: "好", "会议" before segmentation) has no index to
use. It reads a bounded window of the person's chats instead, newest first: at most
SHORT_SCAN_ROWS messages per page, split among their chats (at least SHORT_SCAN_MIN_PER_CHAT
each), through the (chat, id) history index. A page may then hold fewer results than asked while
`next_before` is not null: the next page scans the next window. Each page costs the same at any
depth, and the short terms' results are complete once paged through.

Deleted messages (their content is erased) and system messages are never found.
"""

import re
from typing import Any

from django.db import connection

from accounts.models import User
from imsuite import sql
from imsuite.errors import not_found

from . import search_index
from .events import message_data, message_for_viewer
from .models import Chat, ChatMember, Message
from .search_index import FTS
from .selectors import refs_of_kinds, title_for

MAX_QUERY_CHARS = 100
SHORT_SCAN_ROWS = 10_000
SHORT_SCAN_MIN_PER_CHAT = 50
# A query with an indexed term reads a smaller window first: enough for a common word to fill its
# page there; a word that does not is rare enough for the index (docs/performance.md, "Search").
INDEXED_WINDOW_ROWS = 2_000
SNIPPET_CHARS = 100  # of the content around the first match
SNIPPET_LEAD = 30  # of them before the first match when the content is longer
ELLIPSIS = "…"
_TRIGRAM_RUN = re.compile(r"[^\W_]{3}")  # what pg_trgm can index: 3 letters or digits in a row
_FLAT = str.maketrans({"\n": " ", "\r": " ", "\t": " "})  # one character for one: offsets stay
_NO_CURSOR = 2**63 - 1
_PG_LIKE = "lower({table}.content) LIKE lower(%s) ESCAPE '\\'"


def query_terms(q: str) -> list[str]:
    """The distinct terms of a query (compared case-insensitively), in their order."""
    terms: dict[str, str] = {}
    for term in q.split():
        terms.setdefault(term.casefold(), term)
    return list(terms.values())


def _indexed(term: str) -> bool:
    if connection.vendor == "postgresql":
        return _TRIGRAM_RUN.search(term) is not None
    return len(term) >= 3


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def content_condition(terms: list[str], table: str, *, use_index: bool = True) -> tuple[str, list[Any]]:
    """SQL that is true when the content of `table` (an alias or quoted name) holds every term, with
    its parameters; also the admin's. On PostgreSQL the search index is read only with `use_index`
    (a plain test is cheaper on a bounded range); SQLite's index is exact and always read."""
    indexed = [t for t in terms if _indexed(t)]
    plain = [t for t in terms if not _indexed(t)]
    parts: list[str] = []
    params: list[Any] = []
    if connection.vendor == "postgresql":
        if indexed and use_index:
            text = search_index.TEXT_TABLE
            where = " AND ".join([_PG_LIKE.format(table=text)] * len(indexed))
            found = f"SELECT message_id FROM {text} WHERE {where}"  # noqa: S608  (our own SQL)
            parts.append(f"{table}.id IN ({found} UNION ALL {search_index.PG_TAIL})")
            params.extend(_like(term) for term in indexed)
        for term in indexed:  # the tail, and the copies' matches checked against the message itself
            parts.append(_PG_LIKE.format(table=table))
            params.append(_like(term))
        substring = "strpos(lower({table}.content), lower(%s)) > 0"
    else:
        if indexed:
            parts.append(f"{table}.id IN (SELECT rowid FROM {FTS} WHERE {FTS} MATCH %s)")  # noqa: S608
            params.append(" ".join('"' + t.replace('"', '""') + '"' for t in indexed))
        substring = "instr(lower({table}.content), lower(%s)) > 0"  # ASCII case only, as SQLite
    for term in plain:
        parts.append(substring.format(table=table))
        params.append(term)
    return " AND ".join(parts) or "1 = 1", params


def _window_floor(chat_ids: list[int], before: int | None, rows: int | None = None) -> int | None:
    """The lowest id a short-term page scans: the highest of the chats' window floors (each chat's
    window is its `per_chat` newest messages below `before`), or None if every chat has fewer."""
    per_chat = max(SHORT_SCAN_MIN_PER_CHAT, (rows or SHORT_SCAN_ROWS) // len(chat_ids))
    message, chat = Message._meta.db_table, Chat._meta.db_table
    statement = (
        f"SELECT MAX((SELECT m.id FROM {message} m WHERE m.chat_id = c.id AND m.id < %s"  # noqa: S608
        " ORDER BY m.chat_id DESC, m.id DESC LIMIT 1 OFFSET %s))"
        f" FROM {chat} c WHERE c.id IN ({sql.placeholders(len(chat_ids))})"
    )
    return sql.fetch_value(statement, [before or _NO_CURSOR, per_chat - 1, *chat_ids])


def _found(
    chat_ids: list[int],
    terms: list[str],
    filters: dict[str, int | None],
    floor: int | None,
    limit: int,
    *,
    by_index: bool = False,
) -> list[Message]:
    where = [
        f"m.chat_id IN ({sql.placeholders(len(chat_ids))})",
        "m.deleted_at IS NULL",
        "m.message_type <> %s",
    ]
    params: list[Any] = [*chat_ids, Message.Type.SYSTEM.value]
    for column, operator, value in (
        ("sender_id", "=", filters["sender_id"]),
        ("id", "<", filters["before"]),
        ("id", ">", filters["after"]),
        ("id", ">=", floor),
    ):
        if value is not None:
            where.append(f"m.{column} {operator} %s")
            params.append(value)
    if by_index and connection.vendor == "postgresql":
        page, page_params = _pg_index_page(chat_ids, [t for t in terms if _indexed(t)], filters, limit)
        where.append(f"m.id IN ({page})")
        params.extend(page_params)
    condition, condition_params = content_condition(terms, "m", use_index=False)
    # `m.id + 0` keeps the planner off the primary key's order: it reads the search index and sorts.
    order = "m.id + 0" if by_index else "m.id"
    statement = (
        f"SELECT {sql.columns(Message, 'm')} FROM {Message._meta.db_table} m"  # noqa: S608  (our own SQL)
        f" WHERE {' AND '.join(where)} AND {condition} ORDER BY {order} DESC LIMIT %s"
    )
    return sql.instances(Message, sql.fetch_all(statement, [*params, *condition_params, limit]))


def _pg_index_page(
    chat_ids: list[int], indexed: list[str], filters: dict[str, int | None], limit: int
) -> tuple[str, list[Any]]:
    """PostgreSQL: the ids of a page's candidates: the newest `limit` matches in the copy (chosen
    there, with the chats, sender and bounds; the page then reads only their messages), and the
    messages not copied yet. The caller tests every term on the messages themselves."""
    where = [f"t.chat_id IN ({sql.placeholders(len(chat_ids))})"]
    params: list[Any] = [*chat_ids]
    for column, operator, value in (
        ("sender_id", "=", filters["sender_id"]),
        ("message_id", "<", filters["before"]),
        ("message_id", ">", filters["after"]),
    ):
        if value is not None:
            where.append(f"t.{column} {operator} %s")
            params.append(value)
    for term in indexed:
        where.append(_PG_LIKE.format(table="t"))
        params.append(_like(term))
    copied = (
        f"SELECT t.message_id FROM {search_index.TEXT_TABLE} t"  # noqa: S608  (our own SQL)
        f" WHERE {' AND '.join(where)} ORDER BY t.message_id + 0 DESC LIMIT %s"
    )
    return f"({copied}) UNION ALL ({search_index.PG_TAIL})", [*params, limit]


def _indexed_found(
    chat_ids: list[int], terms: list[str], filters: dict[str, int | None], limit: int
) -> list[Message]:
    """A query with an indexed term, in two steps whose costs are each bounded: the newest window
    (the short scan's) first, which fills the page for a common word; then the search index below
    the window, which is cheap because the word was rare in it. One query cannot do both: the
    planner cannot tell a rare word from a common one and walked 490,000 rows for a rare one."""
    floor = _window_floor(chat_ids, filters["before"], INDEXED_WINDOW_ROWS)
    if floor is None or (filters["after"] is not None and floor <= filters["after"]):
        return _found(chat_ids, terms, filters, None, limit)  # a range no larger than a window
    recent = _found(chat_ids, terms, filters, floor, limit)
    if len(recent) == limit:
        return recent
    older = {**filters, "before": floor}
    return recent + _found(chat_ids, terms, older, None, limit - len(recent), by_index=True)


def search_messages(
    user: User,
    terms: list[str],
    *,
    chat_id: int | None = None,
    sender_id: int | None = None,
    before: int | None = None,
    after: int | None = None,
    limit: int = 20,
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of results (message objects with `chat` and `snippet`), newest first, and the
    `before` cursor of the next page (None when there is nothing older to look at). Only chats
    the user is a member of now; a chat_id they are not in is NOT_FOUND."""
    scope = ChatMember.objects.filter(user=user, user__is_active=True)
    if chat_id is not None:
        scope = scope.filter(chat_id=chat_id)
    members = scope.values_list("chat_id", "chat__type", "chat__group__name").order_by("chat_id")
    kinds = {pk: (kind, name) for pk, kind, name in members}
    if chat_id is not None and not kinds:
        raise not_found("Chat")
    if not kinds:
        return [], None
    chat_ids = list(kinds)
    filters = {"sender_id": sender_id, "before": before, "after": after}
    floor = None
    if any(_indexed(term) for term in terms):
        rows = _indexed_found(chat_ids, terms, filters, limit + 1)
    else:
        floor = _window_floor(chat_ids, before)
        if floor is not None and after is not None and floor <= after:
            floor = None  # the `after` bound ends the scan before the window does
        rows = _found(chat_ids, terms, filters, floor, limit + 1)
    page = rows[:limit]
    next_before = page[-1].pk if len(rows) > limit else floor
    refs = refs_of_kinds({m.chat_id: kinds[m.chat_id] for m in page})
    results = []
    for message in page:
        ref = refs[message.chat_id]
        results.append(
            {
                **message_for_viewer(message_data(message), user.pk),
                "chat": {"id": ref["id"], "type": ref["type"], "title": title_for(ref, user.pk)},
                "snippet": snippet(message.content, terms),
            }
        )
    return results, next_before


def snippet(content: str, terms: list[str]) -> dict[str, Any]:
    """At most SNIPPET_CHARS of the content around the first match (an ellipsis marks a cut), with
    where each match is in it: [{start, end}] in Unicode code points of `text`, end exclusive.
    Plain text and offsets, so a client renders it as text nodes (never as HTML)."""
    text = content.translate(_FLAT)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    start = 0
    if len(text) > SNIPPET_CHARS:
        first = pattern.search(text)
        start = max(0, min((first.start() if first else 0) - SNIPPET_LEAD, len(text) - SNIPPET_CHARS))
    end = min(len(text), start + SNIPPET_CHARS)
    head = ELLIPSIS if start else ""
    tail = ELLIPSIS if end < len(text) else ""
    body = text[start:end]
    highlights = [
        {"start": len(head) + m.start(), "end": len(head) + m.end()} for m in pattern.finditer(body)
    ]
    return {"text": head + body + tail, "highlights": highlights}
