"""Message search (GET /api/search/messages) and history around a message (?around=, ?after=):
English and Chinese of any length, mixed text, AND of terms, case, who may find what, paging,
refusals; the admin's message search through the same index."""

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from accounts.models import User
from chats import search, search_index, services
from chats.models import Chat, ChatMember, Message
from groups.models import Group
from tests.accounts.test_api import assert_error, check
from tests.chats.test_api import message_body

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    cache.clear()


def group(name: str, *members: User) -> Chat:
    chat = Chat.objects.create(type=Chat.Type.GROUP)
    Group.objects.create(chat=chat, name=name, owner=members[0])
    ChatMember.objects.bulk_create([ChatMember(chat=chat, user=u) for u in members])
    return chat


def private(a: User, b: User) -> Chat:
    low, high = sorted((a.pk, b.pk))
    chat = Chat.objects.create(type=Chat.Type.PRIVATE, private_key=f"{low}:{high}")
    ChatMember.objects.bulk_create([ChatMember(chat=chat, user=a), ChatMember(chat=chat, user=b)])
    return chat


def say(chat: Chat, sender: User, content: str, **fields: Any) -> int:
    return Message.objects.create(chat=chat, sender=sender, content=content, **fields).pk


def found(client, q: str, **params: Any) -> list[int]:
    return [r["id"] for r in page(client, q, **params)["results"]]


def page(client, q: str, **params: Any) -> dict:
    return check(client.get("/api/search/messages", {"q": q, **params}), 200)


@pytest.fixture
def chats(alice: User, bob: User, carol: User) -> dict[str, Chat]:
    return {
        "team": group("Team", alice, bob),
        "pair": private(alice, bob),
        "other": group("Other", bob, carol),
    }


@pytest.fixture
def me(client_for, alice: User):
    return client_for(alice)


def test_english_words_all_terms_any_case(me, chats, bob):
    first = say(chats["team"], bob, "Quarterly REPORT due Friday")
    second = say(chats["pair"], bob, "the report draft")
    say(chats["team"], bob, "nothing to see")
    assert found(me, "report") == [second, first]
    assert found(me, "Report FRIDAY") == [first]
    assert found(me, "  report   draft ") == [second]
    assert found(me, "report monday") == []
    assert found(me, "repo") == [second, first]  # a substring, not a word


def test_chinese_of_one_two_and_more_characters(me, chats, bob):
    meeting = say(chats["team"], bob, "我们明天开会讨论项目进度")
    weather = say(chats["pair"], bob, "今天天气很好")
    room = say(chats["team"], bob, "会议室在三楼")
    assert found(me, "会") == [room, meeting]
    assert found(me, "天") == [weather, meeting]
    assert found(me, "开会") == [meeting]
    assert found(me, "会议") == [room]
    assert found(me, "讨论项目") == [meeting]
    assert found(me, "天气很好") == [weather]
    assert found(me, "明天 进度") == [meeting]
    assert found(me, "会天") == []
    assert found(me, "三楼 天气") == []


def test_mixed_text(me, chats, bob):
    mixed = say(chats["team"], bob, "明天 Release v2.0 上线\uff0c请 review")  # a Chinese comma
    say(chats["team"], bob, "release notes only")
    assert found(me, "release 上线") == [mixed]
    assert found(me, "上线") == [mixed]
    assert found(me, "v2") == [mixed]
    assert found(me, "V2.0 明天") == [mixed]
    assert found(me, "上线 deploy") == []


def test_a_result_is_the_message_with_its_chat_and_a_snippet(me, chats, alice, bob):
    mine = say(chats["pair"], alice, "Lunch at noon?", client_msg_id="c-1")
    theirs = say(chats["team"], bob, "Lunch\nis on me")
    body = page(me, "lunch")
    assert body == {
        "results": [
            {
                **message_body(Message.objects.get(pk=theirs), alice),
                "chat": {"id": chats["team"].pk, "type": "group", "title": "Team"},
                "snippet": {"text": "Lunch is on me", "highlights": [{"start": 0, "end": 5}]},
            },
            {
                **message_body(Message.objects.get(pk=mine), alice),
                "chat": {"id": chats["pair"].pk, "type": "private", "title": "Bob"},
                "snippet": {"text": "Lunch at noon?", "highlights": [{"start": 0, "end": 5}]},
            },
        ],
        "next_before": None,
    }
    assert body["results"][1]["client_msg_id"] == "c-1"  # as in history: only on one's own messages


def test_only_what_the_person_can_read(client_for, me, chats, alice, bob, carol):
    old = group("Old", alice, bob)
    say(old, bob, "secret plan one")
    ChatMember.objects.filter(chat=old, user=alice).delete()  # a former member
    say(chats["other"], carol, "secret plan two")  # a chat she was never in
    gone = say(chats["team"], bob, "secret plan three")
    services.message_delete(actor=bob, message_id=gone)
    say(chats["team"], bob, "alice joined the secret plan", message_type=Message.Type.SYSTEM)
    kept = say(chats["pair"], bob, "secret plan four")
    assert found(me, "secret plan") == [kept]
    assert found(me, "plan", chat_id=chats["team"].pk) == []
    assert found(client_for(carol), "secret plan") == [Message.objects.get(content="secret plan two").pk]
    assert found(client_for(bob), "secret plan") == [
        kept,
        Message.objects.get(content="secret plan two").pk,
        Message.objects.get(content="secret plan one").pk,
    ]
    for chat in (chats["other"], old):  # not hers: as if it did not exist
        assert_error(me.get("/api/search/messages", {"q": "plan", "chat_id": chat.pk}), 404, "NOT_FOUND")


def test_filters_by_chat_sender_and_ids(me, chats, alice, bob):
    ids = [say(chats["team" if i % 2 else "pair"], alice if i % 3 else bob, f"budget {i}") for i in range(6)]
    assert found(me, "budget", chat_id=chats["team"].pk) == [ids[5], ids[3], ids[1]]
    assert found(me, "budget", sender_id=bob.pk) == [ids[3], ids[0]]
    assert found(me, "budget", before=ids[4], after=ids[1]) == [ids[3], ids[2]]
    assert found(me, "budget", chat_id=chats["pair"].pk, sender_id=alice.pk, after=ids[2]) == [ids[4]]


def test_paging_through_the_index(me, chats, bob):
    ids = [say(chats["team" if i % 2 else "pair"], bob, f"alpha {i}") for i in range(7)]
    first = page(me, "alpha", limit=3)
    assert [r["id"] for r in first["results"]] == ids[6:3:-1]
    assert first["next_before"] == ids[4]
    second = page(me, "alpha", limit=3, before=ids[4])
    assert [r["id"] for r in second["results"]] == ids[3:0:-1]
    assert second["next_before"] == ids[1]
    last = page(me, "alpha", limit=3, before=ids[1])
    assert [r["id"] for r in last["results"]] == [ids[0]]
    assert last["next_before"] is None


def test_indexed_queries_read_the_newest_window_then_the_index_below_it(me, chats, alice, bob, monkeypatch):
    """A page of an indexed query is the newest window's matches (here the 2 newest of each of
    two chats) and then the index's below the window, in one id order; the window changes no
    result and no cursor, however the matches fall across it."""
    monkeypatch.setattr(search, "INDEXED_WINDOW_ROWS", 4)
    monkeypatch.setattr(search, "SHORT_SCAN_MIN_PER_CHAT", 1)
    team, pair = chats["team"], chats["pair"]
    plan = [(team, "budget a"), (pair, "budget b"), (team, "other"), (pair, "budget c"), (team, "other")]
    plan += [(pair, "other"), (team, "budget d"), (pair, "other"), (team, "other"), (pair, "budget e")]
    ids = [say(chat, bob, text) for chat, text in plan]
    budget = [ids[9], ids[6], ids[3], ids[1], ids[0]]  # newest first; the window starts at ids[7]
    assert found(me, "budget") == budget
    first = page(me, "budget", limit=3)  # one from the window, two from the index below it
    assert [r["id"] for r in first["results"]] == budget[:3]
    assert first["next_before"] == budget[2]
    rest = page(me, "budget", limit=3, before=budget[2])
    assert [r["id"] for r in rest["results"]] == budget[3:]
    assert rest["next_before"] is None
    assert found(me, "budget", limit=1) == budget[:1]  # the window alone fills the page
    assert found(me, "budget", after=ids[3]) == budget[:2]  # `after` inside the index's part
    assert found(me, "budget", after=ids[8]) == budget[:1]  # `after` above the window's floor
    assert found(me, "budget 好") == []  # an indexed term and a short one


def test_short_queries_scan_a_bounded_window_and_page_on(me, chats, alice, bob, monkeypatch):
    """Each page of a 1-2 character query reads at most SHORT_SCAN_ROWS messages (here 4 over
    two chats: the 2 newest of each below the cursor, and all of the chats from the higher floor)."""
    monkeypatch.setattr(search, "SHORT_SCAN_ROWS", 4)
    monkeypatch.setattr(search, "SHORT_SCAN_MIN_PER_CHAT", 1)
    team, pair = chats["team"], chats["pair"]
    plan = [(team, "好的"), (pair, "不"), (team, "好"), (team, "no"), (pair, "很好"), (team, "好")]
    plan += [(pair, "no"), (pair, "no"), (team, "好吧"), (pair, "好")]
    ids = [say(chat, bob, text) for chat, text in plan]
    # Windows: below the top, team's 2 newest are ids[8], ids[5]; pair's are ids[9], ids[7]: from ids[7].
    first = page(me, "好", limit=5)
    assert [r["id"] for r in first["results"]] == [ids[9], ids[8]]
    assert first["next_before"] == ids[7]
    # Below ids[7]: team's ids[5], ids[3]; pair's ids[6], ids[4]: from ids[4].
    second = page(me, "好", limit=5, before=ids[7])
    assert [r["id"] for r in second["results"]] == [ids[5], ids[4]]
    assert second["next_before"] == ids[4]
    # Below ids[4]: team's ids[3], ids[2]; pair's ids[1] only (fewer than 2): from ids[2].
    third = page(me, "好", limit=5, before=ids[4])
    assert [r["id"] for r in third["results"]] == [ids[2]]
    assert third["next_before"] == ids[2]
    # Below ids[2]: team's ids[0]; pair's ids[1]: every chat has fewer than 2 left, the end.
    last = page(me, "好", limit=5, before=ids[2])
    assert [r["id"] for r in last["results"]] == [ids[0]]
    assert last["next_before"] is None
    # A full page gives the usual cursor, and `after` ends the scan where it says.
    full = page(me, "好", limit=1)
    assert [r["id"] for r in full["results"]] == [ids[9]] and full["next_before"] == ids[9]
    assert found(me, "好", after=ids[8]) == [ids[9]]
    assert page(me, "好", after=ids[8])["next_before"] is None


def test_refusals(me, chats):
    for params, field in (
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"q": "a", "limit": 0}, "limit"),
        ({"q": "a", "limit": 51}, "limit"),
        ({"q": "a", "limit": "ten"}, "limit"),
        ({"q": "a", "before": "x"}, "before"),
        ({"q": "a", "chat_id": -1}, "chat_id"),
    ):
        body = assert_error(me.get("/api/search/messages", params), 400, "VALIDATION_ERROR")
        assert body["details"]["field"] == field, params
    assert page(me, "x" * 100, limit=50) == {"results": [], "next_before": None}
    assert page(me, "%_\\", limit=1) == {"results": [], "next_before": None}  # LIKE's wildcards are text


def test_like_wildcards_are_plain_characters(me, chats, bob):
    literal = say(chats["team"], bob, "100% sure_thing")
    say(chats["team"], bob, "1000 sure things")
    assert found(me, "100%") == [literal]
    assert found(me, "sure_thing") == [literal]
    assert found(me, "0%") == [literal]


def test_search_needs_sign_in(api):
    assert_error(api.get("/api/search/messages", {"q": "a"}), 401, "AUTHENTICATION_FAILED")


def test_edits_and_deletes_keep_the_index_in_step(me, chats, alice, bob):
    sent, _ = services.message_send(actor=bob, chat_id=chats["team"].pk, content="draft agenda 草稿")
    assert found(me, "agenda") == [sent.pk]
    services.message_edit(actor=bob, message_id=sent.pk, content="final schedule 定稿")
    assert found(me, "agenda") == []
    assert found(me, "草稿") == []
    assert found(me, "schedule 定稿") == [sent.pk]
    services.message_delete(actor=bob, message_id=sent.pk)
    assert found(me, "schedule") == []


# --- the snippet ------------------------------------------------------------------------------


def test_snippet_is_bounded_around_the_first_match():
    content = "a" * 150 + " needle " + "b" * 150
    got = search.snippet(content, ["NEEDLE"])
    text = got["text"]
    assert text.startswith("…") and text.endswith("…")
    assert len(text) == search.SNIPPET_CHARS + 2
    assert [text[h["start"] : h["end"]] for h in got["highlights"]] == ["needle"]
    assert got["highlights"] == [{"start": 1 + search.SNIPPET_LEAD, "end": 1 + search.SNIPPET_LEAD + 6}]


def test_snippet_marks_every_term_in_code_points():
    got = search.snippet("😀 会议 and 会议室\tMeeting", ["会议", "meeting"])
    assert got["text"] == "😀 会议 and 会议室 Meeting"
    assert got["highlights"] == [{"start": 2, "end": 4}, {"start": 9, "end": 11}, {"start": 13, "end": 20}]
    tail = search.snippet("x" * 300 + "end", ["end"])
    assert tail["text"] == "…" + "x" * 97 + "end" and tail["highlights"] == [{"start": 98, "end": 101}]


# --- history around a message -----------------------------------------------------------------


def window(client, chat: Chat, **params: Any) -> dict:
    return check(client.get(f"/api/chats/{chat.pk}/messages", params), 200)


def ids_of(body: dict) -> list[int]:
    return [m["id"] for m in body["results"]]


def test_history_around_a_message_and_on_both_ways(me, chats, alice, bob):
    chat = chats["team"]
    ids = [say(chat, bob, f"m{i}") for i in range(11)]
    say(chats["pair"], bob, "elsewhere")  # another chat's messages never show
    around = window(me, chat, around=ids[5], limit=5)
    assert ids_of(around) == ids[7:2:-1]
    assert (around["next_before"], around["next_after"]) == (ids[3], ids[7])
    assert around["results"][2] == message_body(Message.objects.get(pk=ids[5]), alice)
    newer = window(me, chat, after=ids[7], limit=2)
    assert ids_of(newer) == [ids[9], ids[8]]
    assert (newer["next_before"], newer["next_after"]) == (ids[8], ids[9])
    newest = window(me, chat, after=ids[9], limit=2)
    assert ids_of(newest) == [ids[10]]
    assert (newest["next_before"], newest["next_after"]) == (ids[10], None)
    older = window(me, chat, before=ids[3], limit=5)
    assert ids_of(older) == ids[2::-1] and older["next_before"] is None
    even = window(me, chat, around=ids[5], limit=4)  # one more older than newer
    assert ids_of(even) == ids[6:2:-1]
    at_top = window(me, chat, around=ids[10], limit=5)  # the older side fills in
    assert ids_of(at_top) == ids[10:5:-1]
    assert (at_top["next_before"], at_top["next_after"]) == (ids[6], None)
    at_start = window(me, chat, around=ids[0], limit=5)
    assert ids_of(at_start) == ids[4::-1]
    assert (at_start["next_before"], at_start["next_after"]) == (None, ids[4])
    alone = window(me, chat, around=ids[5], limit=1)
    assert ids_of(alone) == [ids[5]] and (alone["next_before"], alone["next_after"]) == (ids[5], ids[5])
    whole = window(me, chat, around=ids[5], limit=100)
    assert ids_of(whole) == ids[::-1] and (whole["next_before"], whole["next_after"]) == (None, None)


def test_history_around_refusals(me, chats, alice, bob, carol):
    mine = say(chats["team"], bob, "here")
    elsewhere = say(chats["pair"], bob, "there")
    theirs = say(chats["other"], carol, "not yours")
    assert_error(me.get(f"/api/chats/{chats['team'].pk}/messages", {"around": elsewhere}), 404, "NOT_FOUND")
    assert_error(me.get(f"/api/chats/{chats['other'].pk}/messages", {"around": theirs}), 404, "NOT_FOUND")
    assert_error(me.get(f"/api/chats/{chats['team'].pk}/messages", {"around": 10**12}), 404, "NOT_FOUND")
    for params in (
        {"around": mine, "before": mine},
        {"around": mine, "after": mine},
        {"after": 1, "before": 5},
    ):
        assert_error(me.get(f"/api/chats/{chats['team'].pk}/messages", params), 400, "VALIDATION_ERROR")
    assert_error(me.get(f"/api/chats/{chats['team'].pk}/messages", {"around": "x"}), 400, "VALIDATION_ERROR")


# --- the admin's message search ---------------------------------------------------------------


def test_admin_message_search_uses_the_same_matching(staff, chats, bob):
    meeting = say(chats["team"], bob, "明天开会 Meeting at ten")
    say(chats["team"], bob, "明天见")
    url = reverse("admin:chats_message_changelist")
    for q, expected in (
        ("开会", [meeting]),
        ("MEETING 明天", [meeting]),
        ("明天", None),
        ("开会 bob", [meeting]),
    ):
        response = staff.get(url, {"q": q})
        assert response.status_code == 200
        listed = [m.pk for m in response.context["cl"].result_list]
        if expected is None:
            assert len(listed) == 2
        else:
            assert listed == expected


# --- the SQLite index's upkeep ----------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 index is SQLite's")
def test_sqlite_triggers_come_back_after_a_migration_remade_the_table(me, chats, bob):
    before = say(chats["team"], bob, "written before")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {search_index.FTS}_insert")  # as a table remake would
    during = say(chats["team"], bob, "written meanwhile")
    assert found(me, "written") == [before]
    search_index.after_migrate()
    assert found(me, "written") == [during, before]
    after = say(chats["team"], bob, "written after")
    assert found(me, "written") == [after, during, before]
