"""Events routed in Redis to the processes that serve their audience, in seq order.

With Redis, each process (its hub) has a stream of its own and registers the users it serves. A
publisher hands a batch of events to one script, which:
- puts message changes (those with a seq) in seq order for the whole deployment: a seq that
  arrives before its predecessor is parked until the predecessor is published, so every
  process's stream holds its changes in strictly increasing seq order, with no wait at the hubs;
- looks up the processes serving each event's audience (one HMGET for all of it) and appends to
  each process's stream one entry with that process's events; a process that serves nobody of an
  audience receives nothing of it, and a broadcast goes to every live process.

A seq whose publisher died between commit and publish would hold the parked ones back forever; a
hub that sees the published position stuck reads the missing changes from the database and
publishes them (the script ignores a seq already out, so two hubs doing so do no harm).

Every key carries the hash tag `{prefix}`: a script's keys must share one slot on a Redis Cluster.
The stream and route keys are derived inside the scripts from that prefix, in the same slot.
"""

import time
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from django.conf import settings

from . import redis_nodes

# A process whose heartbeat is older than this is dead: nothing more is routed to it, and the next
# live process's heartbeat removes its routes and its stream.
PROCESS_EXPIRY_SECONDS = 20
STREAM_MAXLEN = 10_000  # entries (one per publish per process) a stalled process may fall behind
CLEANUP_BATCH = 2_000  # a dead process's users removed per heartbeat (bounds one script's run)

_COMMON_LUA = """
local tag = ARGV[1]
local routes_key, procs_key = tag .. ':routes', tag .. ':procs'
local function drop_route(uid, proc)
  local value = redis.call('HGET', routes_key, uid)
  if value then
    local kept = {}
    for p in string.gmatch(value, '%S+') do if p ~= proc then kept[#kept + 1] = p end end
    if #kept == 0 then redis.call('HDEL', routes_key, uid)
    else redis.call('HSET', routes_key, uid, table.concat(kept, ' ')) end
  end
end
"""

# ARGV: tag, now, alive_since, maxlen, floor, then (seq or '', audience ('*' or ids), payload)*.
# Returns {published position, lowest parked seq or 0}.
_PUBLISH_LUA = (
    _COMMON_LUA
    + """
local alive_since, maxlen, floor = ARGV[3], ARGV[4], tonumber(ARGV[5])
local pub_key, park_key, parked_key = tag .. ':pub', tag .. ':park', tag .. ':parked'
local pub = tonumber(redis.call('GET', pub_key) or '-1')
local out, order = {}, {}
local function route(audience, payload)
  local procs, seen = {}, {}
  if audience == '*' then
    procs = redis.call('ZRANGEBYSCORE', procs_key, alive_since, '+inf')
  else
    local ids = {}
    for id in string.gmatch(audience, '%d+') do ids[#ids + 1] = id end
    for i = 1, #ids, 4000 do
      local values = redis.call('HMGET', routes_key, unpack(ids, i, math.min(i + 3999, #ids)))
      for _, value in ipairs(values) do
        if value then
          for p in string.gmatch(value, '%S+') do
            if not seen[p] then seen[p] = true; procs[#procs + 1] = p end
          end
        end
      end
    end
  end
  for _, p in ipairs(procs) do
    local list = out[p]
    if not list then list = {}; out[p] = list; order[#order + 1] = p end
    list[#list + 1] = payload
  end
end
local function drain()
  while true do
    local first = redis.call('ZRANGE', park_key, 0, 0, 'WITHSCORES')
    if #first == 0 or tonumber(first[2]) > pub + 1 then return end
    local data = redis.call('HGET', parked_key, first[1])
    redis.call('ZREM', park_key, first[1])
    redis.call('HDEL', parked_key, first[1])
    local seq = tonumber(first[2])
    if seq > pub and data then
      local cut = string.find(data, '\\n', 1, true)
      route(string.sub(data, 1, cut - 1), string.sub(data, cut + 1))
      pub = seq
    end
  end
end
for i = 6, #ARGV, 3 do
  local seq = ARGV[i]
  if seq == '' then
    route(ARGV[i + 1], ARGV[i + 2])
  else
    seq = tonumber(seq)
    if pub < 0 then pub = seq - 1 end
    if seq == pub + 1 then
      route(ARGV[i + 1], ARGV[i + 2]); pub = seq; drain()
    elseif seq > pub then
      redis.call('ZADD', park_key, seq, seq)
      redis.call('HSET', parked_key, seq, ARGV[i + 1] .. '\\n' .. ARGV[i + 2])
    end
  end
end
if floor > 0 and floor > pub then pub = floor; drain() end
if pub >= 0 then redis.call('SET', pub_key, pub) end
for _, p in ipairs(order) do
  local beat = redis.call('ZSCORE', procs_key, p)
  if beat and tonumber(beat) >= tonumber(alive_since) then
    local entry = '[' .. table.concat(out[p], ',') .. ']'
    redis.call('XADD', tag .. ':s:' .. p, 'MAXLEN', '~', maxlen, '*', 'e', entry)
  end
end
local first = redis.call('ZRANGE', park_key, 0, 0, 'WITHSCORES')
return {pub, #first > 0 and tonumber(first[2]) or 0}
"""
)

# ARGV: tag, process, now, then user ids to add, '-', user ids to remove. Returns whether the
# process was known (0 after Redis lost its data: the caller registers all its users again).
_ROUTES_LUA = (
    _COMMON_LUA
    + """
local proc = ARGV[2]
local users_key = tag .. ':users:' .. proc
local known = redis.call('ZSCORE', procs_key, proc)
redis.call('ZADD', procs_key, ARGV[3], proc)
local removing = false
for i = 4, #ARGV do
  local uid = ARGV[i]
  if uid == '-' then removing = true
  elseif removing then
    drop_route(uid, proc); redis.call('SREM', users_key, uid)
  else
    local value = redis.call('HGET', routes_key, uid)
    if not value then redis.call('HSET', routes_key, uid, proc)
    else
      local present = false
      for p in string.gmatch(value, '%S+') do if p == proc then present = true end end
      if not present then redis.call('HSET', routes_key, uid, value .. ' ' .. proc) end
    end
    redis.call('SADD', users_key, uid)
  end
end
return known and 1 or 0
"""
)

# ARGV: tag, process to clear (its own at a graceful stop) or '' (dead ones), dead_before, batch.
# Removes up to `batch` users' routes of each process cleared, then the process when none are left.
_CLEAR_LUA = (
    _COMMON_LUA
    + """
local targets = {}
if ARGV[2] ~= '' then targets = {ARGV[2]}
else targets = redis.call('ZRANGEBYSCORE', procs_key, '-inf', '(' .. ARGV[3], 'LIMIT', 0, 4) end
local left = 0
for _, proc in ipairs(targets) do
  local users_key = tag .. ':users:' .. proc
  local uids = redis.call('SPOP', users_key, tonumber(ARGV[4]))
  for _, uid in ipairs(uids) do drop_route(uid, proc) end
  if redis.call('SCARD', users_key) == 0 then
    redis.call('ZREM', procs_key, proc)
    redis.call('DEL', tag .. ':s:' .. proc)
  else left = left + 1 end
end
return left
"""
)


@dataclass(frozen=True)
class Position:
    """The sequencer's state: every seq up to `published` is out; `parked` is the lowest seq
    waiting for a predecessor (0: none)."""

    published: int
    parked: int


def tag() -> str:
    """The hash tag every key of the routes shares (one slot on a cluster)."""
    return "{" + settings.REDIS_PREFIX + "}"


def stream_key(process: str) -> str:
    return f"{tag()}:s:{process}"


def _scripts(client: Any) -> dict[str, Any]:
    scripts = getattr(client, "_imsuite_route_scripts", None)
    if scripts is None:
        scripts = {
            "publish": client.register_script(_PUBLISH_LUA),
            "routes": client.register_script(_ROUTES_LUA),
            "clear": client.register_script(_CLEAR_LUA),
        }
        client._imsuite_route_scripts = scripts
    return scripts


class Routed(NamedTuple):
    """A hub event as a route carries it: its seq (None: not a message change), its audience (None:
    everyone) and its JSON, which the stream holds as it is."""

    seq: int | None
    audience: list[int] | None
    json: bytes


def encode(events: list[Routed], floor: int = 0) -> list[Any]:
    """The publish script's arguments after its first four: the floor, then each event's seq,
    audience and JSON payload (events with a seq in seq order, as a fill needs them)."""
    args: list[Any] = [floor]
    for seq, audience, payload in events:
        to = "*" if audience is None else ",".join(map(str, audience))
        args += ["" if seq is None else seq, to, payload]
    return args


async def publish(events: list[Routed], floor: int = 0) -> Position:
    """Route a batch. With `floor`, every seq up to it is accounted for (a fill: those not among the
    events were superseded)."""
    now = time.time()
    head = [tag(), now, now - PROCESS_EXPIRY_SECONDS, STREAM_MAXLEN]
    client = redis_nodes.async_client()
    script = _scripts(client)["publish"]
    published, parked = await script(keys=[f"{tag()}:pub"], args=head + encode(events, floor))
    return Position(int(published), int(parked))


async def set_routes(process: str, add: list[int], remove: list[int]) -> bool:
    """Route the users in `add` to `process` and no longer those in `remove`; renews the process's
    heartbeat. False when Redis did not know the process (it lost its data)."""
    args = [tag(), process, time.time(), *add, "-", *remove]
    client = redis_nodes.async_client()
    return bool(await _scripts(client)["routes"](keys=[f"{tag()}:procs"], args=args))


async def clear(process: str = "") -> int:
    """Remove a process's routes and stream (its own at a graceful stop), or, with none named, a
    batch of dead processes'; returns how many processes still have routes left to remove."""
    args = [tag(), process, time.time() - PROCESS_EXPIRY_SECONDS, CLEANUP_BATCH]
    client = redis_nodes.async_client()
    return int(await _scripts(client)["clear"](keys=[f"{tag()}:procs"], args=args))


async def position() -> Position:
    """Where the sequencer is (read by the hubs' watchers)."""
    client = redis_nodes.async_client()
    pipe = client.pipeline(transaction=False)
    pipe.get(f"{tag()}:pub")
    pipe.zrange(f"{tag()}:park", 0, 0, withscores=True)
    published, first = await pipe.execute()
    return Position(int(published) if published is not None else -1, int(first[0][1]) if first else 0)


def sequence_keys() -> list[str]:
    """The sequencer's own keys: the published position and the parked changes."""
    return [f"{tag()}:pub", f"{tag()}:park", f"{tag()}:parked"]


async def start_sequence(published: int) -> None:
    """Tell a sequencer that knows no position (Redis started empty, or it was restarted) where
    it is: without one, the first change published would start it, and a lost change just before
    that one would never be looked for."""
    await redis_nodes.async_client().set(f"{tag()}:pub", published, nx=True)


async def restart_sequence() -> None:
    """Forget the sequencer's position (the database went back: restored, or emptied by tests);
    the next change published starts it again."""
    await redis_nodes.async_client().delete(*sequence_keys())


async def read(
    process: str, after: str, block_ms: int, count: int = 1000
) -> tuple[str, list[dict[str, Any]]]:
    """The events of the process's stream after entry `after` ('$': from now), waiting up to
    block_ms for the first; returns the last entry's id and the events in stream order."""
    client = redis_nodes.async_client()
    answer = await client.xread({stream_key(process): after}, count=count, block=block_ms)
    events: list[dict[str, Any]] = []
    for _key, entries in answer or ():
        for entry_id, fields in entries:
            after = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            events.extend(orjson.loads(fields[b"e"]))
    return after, events
