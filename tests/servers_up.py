"""Exit 0 when the PostgreSQL and Redis of the second test leg answer, 1 (saying which) otherwise."""

import sys

import psycopg
import redis


def main(database_url: str, redis_url: str) -> int:
    ok = True
    try:
        psycopg.connect(database_url, connect_timeout=3).close()
    except Exception as exc:
        print(f"PostgreSQL at {database_url} is not answering: {exc}")
        ok = False
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:
        print(f"Redis at {redis_url} is not answering: {exc}")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
