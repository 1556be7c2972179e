"""The search scenario: GET /api/search/messages over 1,000,000 messages of mixed Chinese and
English, for a person in 20 of the 100 chats that hold them.

    python -m bench.search [--quick]          (also `python -m bench.run --scenarios search`)

It has a database of its own (BENCH_SEARCH_DATABASE_URL, default imsuite_bench_search), so its
million messages do not slow the other scenarios' references down; seeded once (COPY, the trigram
index built after the load) and reused. One daphne serves it; one client asks one query at a time
and the p99 of each kind of query is the figure: one English word (the pg_trgm index) and two
Chinese characters (no trigram: the bounded newest-first scan of the person's chats).
"""

import argparse
import functools
import http.client
import itertools
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench import run

DB_NAME = "imsuite_bench_search"
DATABASE_URL = os.environ.get("BENCH_SEARCH_DATABASE_URL", f"postgres://root@127.0.0.1:5432/{DB_NAME}")
PORT = run.SEARCH_PORT
SIZES = {"quick": {"messages": 100_000, "requests": 100}, "full": {"messages": 1_000_000, "requests": 1000}}
CHATS, MEMBER_OF, SENDERS = 100, 20, 50
SEED_SECONDS = 900  # the load gives up past this (a full seed takes about two minutes here)
TARGET_P99_MS = 50
# Common words first: the texts draw word k with a weight of 1/k (Zipf), as people write.
COMMON_ENGLISH = (
    "the to and you for meeting project today tomorrow please thanks report update release server "
    "deploy review design test build issue ticket client customer budget schedule lunch coffee team "
    "manager email document draft version feature bug fix database backup network laptop phone call "
    "video share screen slide deadline launch market sales price order invoice payment contract "
    "travel hotel flight ticket weekend holiday birthday party dinner movie music game football"
)
ENGLISH = COMMON_ENGLISH.split()
HANZI = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她"
    "里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从"
    "动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等"
    "几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山"
)


@functools.cache
def _vocabularies() -> tuple[list[str], list[str]]:
    """English: the common words above and 2,000 made-up ones; Chinese: 3,000 two-character words."""
    rng = random.Random(0)  # noqa: S311  (made-up words, the same in every run)
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
    made_up = sorted(
        {rng.choice(syllables) + rng.choice(syllables) + rng.choice(syllables) for _ in range(2600)}
    )
    rng.shuffle(made_up)
    english = ENGLISH + made_up[:2000]
    chinese = list(dict.fromkeys(rng.choice(HANZI) + rng.choice(HANZI) for _ in range(4000)))[:3000]
    return english, chinese


def _zipf_picker(rng: random.Random, words: list[str]) -> Any:
    cumulative = list(itertools.accumulate(1 / (k + 1) for k in range(len(words))))
    return lambda n: rng.choices(words, cum_weights=cumulative, k=n)


def _texts(count: int, rng: random.Random) -> Any:
    """`count` messages: 55 % Chinese, 30 % English, 15 % both, 3-18 words each."""
    english, chinese = _vocabularies()
    pick_en, pick_zh = _zipf_picker(rng, english), _zipf_picker(rng, chinese)
    for _ in range(count):
        words = rng.randint(3, 18)
        kind = rng.random()
        if kind < 0.55:
            text = "".join(pick_zh(words)) + rng.choice(("", "。", "？", "！"))  # noqa: RUF001  (Chinese punctuation)
        elif kind < 0.85:
            text = " ".join(pick_en(words)).capitalize() + rng.choice(("", ".", "?", "!"))
        else:
            half = words // 2
            text = "".join(pick_zh(half)) + " " + " ".join(pick_en(words - half)) + " " + "".join(pick_zh(2))
        yield text


COPY_SQL = (
    "COPY chats_message (chat_id, sender_id, content, message_type, created_at, is_edited, seq, created_seq)"
    " FROM STDIN"
)


def seed(messages: int) -> dict[str, Any]:
    """In a process of its own on the search database: users, chats and the messages, once."""
    import django

    os.environ["DATABASE_URL"] = DATABASE_URL  # bench.run set the other scenarios' database
    django.setup()
    from django.db import connection, transaction

    from accounts.models import User
    from chats import search_index
    from chats.models import Chat, ChatMember, Message, SearchState
    from chats.selectors import current_seq
    from groups.models import Group

    with transaction.atomic():
        users = list(User.objects.filter(username__startswith="search").order_by("pk"))
        if not users:
            User.objects.bulk_create(
                [User(username=f"search{i}", nickname=f"Search {i}", password="!") for i in range(SENDERS)]
            )
            users = list(User.objects.filter(username__startswith="search").order_by("pk"))
        chats = list(
            Group.objects.filter(name__startswith="search-").order_by("pk").values_list("pk", flat=True)
        )
        if not chats:
            rng = random.Random(1)  # noqa: S311  (made-up data, not secrets)
            for i in range(CHATS):
                chat = Chat.objects.create(type="group")
                Group.objects.create(chat=chat, name=f"search-{i}", owner=users[1])
                members = {users[0]} if i < MEMBER_OF else set()
                members.update(rng.sample(users[1:], 5))
                ChatMember.objects.bulk_create([ChatMember(chat=chat, user=u) for u in members])
                chats.append(chat.pk)
    have = Message.objects.filter(chat_id__in=chats).count()
    started = time.monotonic()
    with connection.cursor() as cursor:
        if have < messages:
            rng = random.Random(have)  # noqa: S311
            senders = [u.pk for u in users]
            with cursor.copy(COPY_SQL) as copy:
                for n, text in enumerate(_texts(messages - have, rng)):
                    if n % 50_000 == 0 and time.monotonic() - started > SEED_SECONDS:
                        raise RuntimeError(f"seeding took over {SEED_SECONDS} s")
                    copy.write_row((rng.choice(chats), rng.choice(senders), text, "text", "now", False, 0, 0))
        indexed = SearchState.objects.filter(pk=1).values_list("message_id", flat=True).first() or 0
        newest = Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        if indexed < newest:  # what the timers process does, at once (the copy, then its index)
            cursor.execute(f"DROP INDEX IF EXISTS {search_index.PG_INDEX}")
            cursor.execute(
                f"INSERT INTO {search_index.TEXT_TABLE} (message_id, chat_id, sender_id, content)"  # noqa: S608
                " SELECT id, chat_id, sender_id, content FROM chats_message WHERE id > %s"
                " ON CONFLICT DO NOTHING",
                [indexed],
            )
            SearchState.objects.update_or_create(pk=1, defaults={"seq": current_seq(), "message_id": newest})
            cursor.execute("SET maintenance_work_mem = '256MB'")
            cursor.execute(search_index.PG_CREATE)
            cursor.execute(search_index.PG_STATISTICS)
            cursor.execute(f"VACUUM ANALYZE chats_message, {search_index.TEXT_TABLE}")
    return {
        "user_id": users[0].pk,
        "chat_ids": chats[:MEMBER_OF],
        "messages": Message.objects.filter(chat_id__in=chats).count(),
        "seed_seconds": round(time.monotonic() - started, 1),
    }


def _queries(kind: str, count: int, salt: str = "") -> list[str]:
    """The queries of a kind, drawn evenly from the vocabulary (so mostly the rarer words, as people
    search for a word that tells their message apart, and now and then a common one)."""
    rng = random.Random(kind + salt)  # noqa: S311
    english, chinese = _vocabularies()
    if kind == "english_word":
        return [rng.choice(english) for _ in range(count)]
    if kind == "chinese_2":
        return [rng.choice(chinese) for _ in range(count)]
    return [rng.choice(chinese) + rng.choice(chinese) for _ in range(count)]  # chinese_4: an index query


KINDS = ("english_word", "chinese_2", "chinese_4")


def _measure(token: str, queries: list[str]) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    latencies, found = [], []
    for q in queries:
        start = time.perf_counter()
        conn.request("GET", f"/api/search/messages?limit=20&q={quote(q)}", headers=headers)
        response = conn.getresponse()
        body = response.read()
        latencies.append((time.perf_counter() - start) * 1000)
        if response.status != 200:
            raise RuntimeError(f"search failed: {response.status} {body[:300]!r}")
        found.append(len(json.loads(body)["results"]))
    conn.close()
    return {
        "requests": len(latencies),
        **run._latency_summary(latencies),
        "mean_results": round(sum(found) / len(found), 1),
        "full_pages_percent": round(100 * sum(n == 20 for n in found) / len(found), 1),
    }


def search_scenario(quick: bool) -> dict[str, Any]:
    """Seed (once), start a daphne on the search database, measure each kind of query."""
    sizes = SIZES["quick" if quick else "full"]
    env = {**os.environ, "DATABASE_URL": DATABASE_URL}
    _ensure_database()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=run.ROOT, check=True, env=env
    )
    seeded = subprocess.run(  # noqa: S603  (our own fixed command)
        [sys.executable, "-m", "bench.search", "--seed", str(sizes["messages"])],
        cwd=run.ROOT,
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    data = json.loads(seeded.stdout.strip().splitlines()[-1])
    token = _token(data["user_id"])
    log_dir = run.ROOT / "var" / "bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "search.log", "w") as log:
        server = subprocess.Popen(  # noqa: S603  (our own fixed command)
            [str(run.BIN / "daphne"), "-b", "127.0.0.1", "-p", str(PORT), "imsuite.asgi:application"],
            cwd=run.ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        run._wait_port(PORT)
        for kind in KINDS:  # connections, caches, the first plans: with other queries of each kind
            _measure(token, _queries(kind, 20, salt="warm-up"))
        result: dict[str, Any] = {key: data[key] for key in ("messages", "seed_seconds")}
        result.update({"chats": CHATS, "member_of": MEMBER_OF})
        for kind in KINDS:
            result[kind] = _measure(token, _queries(kind, sizes["requests"]))
            result[f"{kind}_p99_ms"] = result[kind]["p99_ms"]
    finally:
        run.stop_servers({"search": server})
    result["targets"] = {
        f"{kind}_p99_ms": {
            "value": result[f"{kind}_p99_ms"],
            "target": f"< {TARGET_P99_MS} ms",
            "met": result[f"{kind}_p99_ms"] < TARGET_P99_MS,
        }
        for kind in ("english_word", "chinese_2")
    }
    return result


def _token(user_id: int) -> str:
    """An access token signed with this run's SECRET_KEY (the server's; the seeding process has another)."""
    import django

    django.setup()
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    return str(AccessToken.for_user(User(pk=user_id)))


def _ensure_database() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    with psycopg.connect(DATABASE_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100,000 messages, 100 queries of each kind")
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)  # the seeding subprocess
    parser.add_argument("--out", default=str(run.ROOT / "var" / "bench-search.json"))
    args = parser.parse_args()
    if args.seed:
        print(json.dumps(seed(args.seed)))
        return
    result = search_scenario(args.quick)
    run._print_result("search", result)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
