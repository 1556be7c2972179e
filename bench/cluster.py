"""Issue 23's scenarios of several IM-Suite processes (docs/performance.md, "Several processes").

- `cluster`: 4 daphne processes, each serving a quarter of the private pairs' people, traffic
  mostly within each quarter. The CPU a process spends on events for other processes' users is
  measured in a phase where only the first quarter sends, against the idle baseline.
- `restart`: the private scenario over 2 processes while each is stopped (SIGTERM) and started
  again in turn; the clients reconnect, sync and resend (bench/reconnecting.py).
"""

import multiprocessing
import signal
import threading
import time
import urllib.request
from typing import Any

from bench import loadgen, reconnecting, run

QUARTERS = ("imsuite", "imsuite2", "imsuite3", "imsuite4")
CROSS_EVERY = 20  # one message in 20 of the mixed phase goes to a chat across quarters
DRAIN_SECONDS = 3


def seed_cluster(data: dict) -> list[list[int]]:
    """For each quarter q and its i-th pair, a private chat of that pair's first person with the
    second person of the i-th pair of quarter q+1: [quarter][i] -> chat id."""
    from django.db import transaction

    from chats.models import Chat, ChatMember

    quarters = run.split(data["pairs"], len(QUARTERS))
    cross = []
    with transaction.atomic():
        for q, pairs in enumerate(quarters):
            chats = []
            for i, (a, _b, _chat) in enumerate(pairs):
                b = quarters[(q + 1) % len(quarters)][i][1]
                low, high = sorted((a["id"], b["id"]))
                chat, made = Chat.objects.get_or_create(
                    private_key=f"{low}:{high}", defaults={"type": "private"}
                )
                if made:
                    ChatMember.objects.bulk_create(
                        [ChatMember(chat=chat, user_id=a["id"]), ChatMember(chat=chat, user_id=b["id"])]
                    )
                chats.append(chat.pk)
            cross.append(chats)
    return cross


def _quarter_jobs(data: dict, cross: list[list[int]], rate: float, seconds: float) -> list[dict]:
    """A worker per quarter, connected to its own process, with four phases: idle, only the
    first quarter sending (within itself), every quarter sending (one in CROSS_EVERY across), and
    idle again."""
    jobs = []
    count = len(QUARTERS)
    for q, pairs in enumerate(run.split(data["pairs"], count)):
        users, within = run.pair_people(pairs)
        # a pair's first person writes across to quarter q+1, its second to quarter q-1's chat
        across = [s for i in range(len(pairs)) for s in ((2 * i, cross[q][i]), (2 * i + 1, cross[q - 1][i]))]
        mixed = []
        for k, sender in enumerate(within * (CROSS_EVERY - 1)):
            mixed.append(sender)
            if k % (CROSS_EVERY - 1) == CROSS_EVERY - 2:
                mixed.append(across[k // (CROSS_EVERY - 1)])
        idle = {"rate": 0, "seconds": seconds, "senders": [], "drain_seconds": 0}
        phases = [
            {"name": "idle", **idle},
            {
                "name": "one_quarter",
                "rate": rate / count if q == 0 else 0,
                "seconds": seconds,
                "senders": within,
                "drain_seconds": DRAIN_SECONDS,
            },
            {
                "name": "mixed",
                "rate": rate / count,
                "seconds": seconds,
                "senders": mixed,
                "drain_seconds": DRAIN_SECONDS,
            },
            {"name": "idle_after", **idle},
        ]
        jobs.append(
            {
                "worker": q,
                "kind": "imsuite",
                "base": f"ws://127.0.0.1:{run.port_of(QUARTERS[q])}",
                "users": users,
                "phases": phases,
            }
        )
    return jobs


class CpuAtBoundaries(threading.Thread):
    """Each process's CPU seconds at the phases' boundaries, counted from the moment it starts
    (just before "go")."""

    def __init__(self, pids: dict[str, int], offsets: list[float]) -> None:
        super().__init__(daemon=True)
        self.pids, self.offsets = pids, offsets
        self.samples: list[dict[str, float]] = []

    def run(self) -> None:
        start = time.time()
        for offset in self.offsets:
            time.sleep(max(0.0, start + offset - time.time()))
            self.samples.append({name: run.cpu_seconds(pid) for name, pid in self.pids.items()})


IDLE_PHASES = ("idle", "idle_after")
# Issue 23: a process spends under 5 % of its own events' CPU on events for other processes' users.
CLUSTER_TARGETS = {"others_cpu_pct": ("< 5 %", lambda v: v < 5)}


def cluster_scenario(data: dict, rate: float, seconds: float, procs: dict) -> dict:
    """Start the third and fourth process, run the three phases, stop them again."""
    for name in run.CLUSTER_PORTS:
        procs[name] = run.start_server(name)
    try:
        for port in run.CLUSTER_PORTS.values():
            run._wait_port(port)
        return _measure_cluster(data, seed_cluster(data), rate, seconds, procs)
    finally:
        run.stop_servers({name: procs.pop(name) for name in run.CLUSTER_PORTS})


def _measure_cluster(data: dict, cross: list[list[int]], rate: float, seconds: float, procs: dict) -> dict:
    jobs = _quarter_jobs(data, cross, rate, seconds)
    phases = jobs[0]["phases"]
    offsets, at = [0.0], 0.0
    for phase in phases:
        at += phase["seconds"] + phase["drain_seconds"]
        offsets.append(at)
    sampler = CpuAtBoundaries({name: procs[name].pid for name in QUARTERS}, offsets)

    def between() -> dict:
        settled = {name: run.wait_until_idle(procs[name].pid) for name in QUARTERS}
        sampler.start()
        return settled

    out = run.run_workers(loadgen.messaging_worker, jobs, between=between)
    settled = out.pop()["between"]  # the seconds each process took to settle before the phases
    sampler.join(timeout=30)
    cpu = {  # phase -> process -> CPU seconds in that phase's window
        phase["name"]: {name: sampler.samples[k + 1][name] - sampler.samples[k][name] for name in QUARTERS}
        for k, phase in enumerate(phases)
    }
    windows = {phase["name"]: offsets[k + 1] - offsets[k] for k, phase in enumerate(phases)}
    # The baseline is the lower of the two idle phases: work left over from before one of them
    # (connections still being set up, a backlog) would otherwise hide the cost of others' events.
    idle_rate = {name: min(cpu[idle][name] / windows[idle] for idle in IDLE_PHASES) for name in QUARTERS}
    # Above idle in the one-quarter phase: the first process's own events, the others' cost of them.
    above = {name: cpu["one_quarter"][name] - idle_rate[name] * windows["one_quarter"] for name in QUARTERS}
    own, others = above[QUARTERS[0]], [above[name] for name in QUARTERS[1:]]
    per_quarter_pct = [round(100 * other / own, 2) if own > 0 else None for other in others]
    one_quarter = [r["phases"]["one_quarter"] for r in out]
    # Only a phase whose messages all arrived measured the cost of its events (a share below 0 is
    # an idle baseline above the phase: shown as measured, counted as none).
    measured = own > 0 and sum(r["received"] for r in one_quarter) == sum(r["sent"] for r in one_quarter)
    result: dict[str, Any] = {
        "processes": {
            name: {
                "users": len(job["users"]),
                **{f"cpu_per_s_{phase}": round(cpu[phase][name] / windows[phase], 3) for phase in cpu},
                "cpu_above_idle_one_quarter": round(above[name], 3),
            }
            for name, job in zip(QUARTERS, jobs, strict=True)
        },
        "own_cpu_seconds": round(own, 3),
        "seconds_to_settle_before": settled,
        # each other process's CPU for one quarter's events, as a share of that quarter's own cost
        "others_cpu_pct_per_quarter": per_quarter_pct,
        # with every quarter sending, a process gets the events of the three others: the worst one
        "others_cpu_pct": round(max(0.0, *per_quarter_pct) * (len(QUARTERS) - 1), 1) if measured else None,
    }
    for phase in ("one_quarter", "mixed"):
        results = [r["phases"][phase] for r in out]
        total_cpu = sum(cpu[phase].values())
        summary = run._messaging_summary(results, 1, total_cpu, per_message=False)
        summary.pop("worst_ms_by_send_time")
        result[phase] = summary
    mixed = result["mixed"]
    result.update(
        sent=mixed["sent"], delivered=mixed["delivered"], lost=mixed["lost"], p99_ms=mixed["p99_ms"]
    )
    result["targets"] = run.verdicts(result, CLUSTER_TARGETS)
    return result


# The rolling restart: sending starts, LEAD_SECONDS later the first process is stopped and started
# again, GAP_SECONDS after it serves the second, and GAP_SECONDS after that sending stops.
LEAD_SECONDS = 3.0
GAP_SECONDS = 3.0
MAX_SENDING_SECONDS = 180  # a bound, should a restart hang
RESTART_DRAIN_SECONDS = 30  # at most; ends as soon as every send is acknowledged and delivered
# a message delivered twice to a device (on one connection, or again after a reconnect), or stored
# twice (two messages for one client_msg_id)
DUPLICATES = ("duplicates_on_one_connection", "duplicates_across_reconnects", "stored_twice")
RESTART_TARGETS = {  # key: (target, met)
    "lost": ("0", lambda v: v == 0),
    "duplicates": ("0", lambda v: v == 0),
}


def _serves(port: int, seconds: float = 90) -> float:
    """Seconds until GET /api/health answers 200 on `port` (RuntimeError past `seconds`)."""
    start = time.time()
    while time.time() - start < seconds:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as answer:
                if answer.status == 200:
                    return time.time() - start
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the restarted process on {port} does not serve")


def _restart_each(procs: dict, names: tuple[str, ...], stop: Any, log: list[dict]) -> None:
    """Stop and start each process in turn (the scenario's orchestrator thread), then `stop`."""
    try:
        time.sleep(LEAD_SECONDS)
        _restart_in_turn(procs, names, log)
    except Exception as error:  # reported with the scenario's figures; the clients stop sending
        log.append({"error": repr(error)})
    finally:
        stop.set()


def _restart_in_turn(procs: dict, names: tuple[str, ...], log: list[dict]) -> None:
    for name in names:
        signalled = time.time()
        procs[name].send_signal(signal.SIGTERM)
        code = procs[name].wait(timeout=60)
        exited = time.time()
        procs[name] = run.start_server(name, mode="a")
        serving = _serves(run.PORTS[name])
        log.append(
            {
                "process": name,
                "exit_code": code,
                "seconds_to_exit": round(exited - signalled, 2),
                "seconds_to_serve_again": round(serving, 2),
            }
        )
        time.sleep(GAP_SECONDS)


GENERATOR_LAGS = ("worst_send_lag_ms", "generator_loop_lag_max_ms")  # a starved worker, not the server


def restart_scenario(data: dict, rate: float, procs: dict) -> dict:
    names = ("imsuite", "imsuite2")
    bases = [f"ws://127.0.0.1:{run.PORTS[name]}" for name in names]
    stop = multiprocessing.get_context("spawn").Event()
    jobs = []
    for w, pairs in enumerate(run.split(data["pairs"], len(names))):
        users, senders = run.pair_people(pairs)
        jobs.append(
            {
                "worker": w,
                "bases": bases,
                "home": w,
                "users": users,
                "senders": senders,
                "rate": rate / len(names),
                "max_seconds": MAX_SENDING_SECONDS,
                "drain_seconds": RESTART_DRAIN_SECONDS,
                "stop": stop,
            }
        )
    restarts: list[dict] = []
    thread = threading.Thread(target=_restart_each, args=(procs, names, stop, restarts))
    try:
        out = run.run_workers(reconnecting.restart_worker, jobs, between=thread.start)
    finally:
        stop.set()
        thread.join()
    seconds = max(r["sent_seconds"] for r in out)
    latencies = [x for r in out for x in r["latencies_ms"]]
    total = {key: sum(r[key] for r in out) for key in ("sent", "acknowledged", "unacknowledged", "delivered")}
    result: dict[str, Any] = {
        **total,
        "lost": sum(r["lost"] for r in out),
        "duplicates": sum(r[key] for r in out for key in DUPLICATES),
        **{key: sum(r[key] for r in out) for key in DUPLICATES},
        "seconds": round(seconds, 1),
        "messages_per_s": round(total["sent"] / seconds, 1),
        **run._latency_summary(latencies),
        "restarts": restarts,
        **{
            key: sum(r[key] for r in out)
            for key in ("closes", "reconnects", "refused_attempts", "gave_up", "silent_servers")
        },
        "stuck": [device for r in out for device in r["stuck"]],
        "devices_failed": [failure for r in out for failure in r["devices_failed"]],
        **{key: sum(r[key] for r in out) for key in ("sent_after_sync", "errors")},
        "told": _merged(r["told"] for r in out),
        "reconnected_to": _merged(r["reconnected_to"] for r in out),
        **{key: round(max(r[key] for r in out), 1) for key in GENERATOR_LAGS},
    }
    worst = run._worst_across(out, "worst_by_send_time")
    result["worst_ms_by_send_time"] = [round(worst[k], 1) for k in sorted(worst)]
    result["targets"] = run.verdicts(result, RESTART_TARGETS)
    return result


def _merged(counts: Any) -> dict[str, int]:
    merged: dict[str, int] = {}
    for one in counts:
        for key, value in one.items():
            merged[key] = merged.get(key, 0) + value
    return merged
