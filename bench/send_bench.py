"""Sending at scale: one edition to many subscribers through a local SMTP sink.

Run by hand:  .venv/bin/python bench/send_bench.py [--subscribers 5000] [--rounds 1]
                  [--json] [--profile [--top 25]]

A temporary folder gets a SQLite database holding the collected seed dumps
(../shared/seeds, listed on 2026-03-12) and a config of N subscribers, each with 1-3
interest phrases out of ten (and some with a name), so that rankings differ. The SMTP
sink is a small aiosmtpd server in its own process on 127.0.0.1 (a port the OS picks):
it counts messages and answers "250 OK". Each measured path runs in a fresh process
with its own copy of the database, so its peak RSS is its own:

  ours       digest.delivery.send_editions with a real SmtpTransport and the real
             ledger (record=True), edition 2026-03-12, wired as `digest send` wires it.
             Timed: the whole call (ledger rows opened, candidates read, ranking,
             rendering, message building, sending, every claim and every "sent").
             Not timed: process start-up, loading the config and the templates.
  bare       the same messages, built beforehand through send_editions with a
             transport that keeps them (record=False), then sent over one plain
             smtplib.SMTP connection, `smtp.send_message(msg)` in a loop; only the
             loop is timed.
  breakdown  ours again (fresh database copy), with the stages wrapped by timers in
             this script (nothing in digest/ changes): rank (the plan: candidates,
             pool, profiles, rank_many), render, build (envelope + build_message), send
             (SmtpTransport.send, the server's round trips included), ledger (open,
             claim, mark sent); exclusive times, divided by the messages sent, and the
             garbage collector's pauses (which fall inside those stages).

With --rounds N, ours and bare run N times each, alternately, and the median run of each
counts (runs against the local sink vary by 10-15%). With --profile, ours runs once more
under cProfile and the top functions are printed.
Aim: ours at least 80% of the bare loop's messages per second.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import io
import json
import multiprocessing
import multiprocessing.connection
import pstats
import random
import resource
import shutil
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
EDITION = date(2026, 3, 12)  # the listing date of the seed dumps
AIM = 0.80
INTERESTS = (
    "graph neural networks",
    "video understanding",
    "model compression",
    "recommender systems",
    "diffusion models",
    "link prediction",
    "large language models",
    "reinforcement learning",
    "object detection",
    "image generation",
)
NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov")


# -- the SMTP sink, in its own process ----------------------------------------------------


class _CountingHandler:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def _sink_main(conn: multiprocessing.connection.Connection) -> None:
    """Serve SMTP on 127.0.0.1 (port 0: the OS picks) until told to stop over `conn`."""
    import asyncio

    from aiosmtpd.smtp import SMTP

    handler = _CountingHandler()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, hostname="sink", ident="sink"), sock=listener)
    )
    conn.send(listener.getsockname()[1])

    def control() -> None:
        while True:
            command = conn.recv()
            conn.send((handler.count, time.process_time()))
            if command == "stop":
                loop.call_soon_threadsafe(loop.stop)
                return

    threading.Thread(target=control, daemon=True).start()
    loop.run_forever()
    server.close()
    loop.run_until_complete(server.wait_closed())
    loop.close()


class Sink:
    """The sink process: `port`, `stats()` (messages counted, its CPU seconds), `stop()`."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_sink_main, args=(child,), daemon=True)
        self._process.start()
        if not self._conn.poll(30):
            self._process.kill()
            raise SystemExit("the SMTP sink did not start")
        self.port: int = self._conn.recv()

    def stats(self) -> tuple[int, float]:
        self._conn.send("count")
        count, cpu = self._conn.recv()
        return int(count), float(cpu)

    def stop(self) -> None:
        if self._process.is_alive():
            try:
                self._conn.send("stop")
                self._conn.recv()
            except (OSError, EOFError):
                pass
            self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


# -- the folder: database and config ------------------------------------------------------


def prepare(folder: Path, subscribers: int, port: int) -> tuple[Path, Path]:
    """Collect the seeds into a database and write a config of `subscribers` readers."""
    from digest import pipeline
    from digest.collect.locate import SourceSpec
    from digest.config import CollectSettings
    from digest.state.store import Store

    if not any(SEEDS.glob("*.txt")):
        raise SystemExit(f"no seed dumps in {SEEDS}")
    database = folder / "seeds.db"
    with Store(f"sqlite:///{database}") as store:
        report = pipeline.collect(
            [SourceSpec(name="seeds", location=str(SEEDS))],
            store,
            settings=CollectSettings(),
            now=datetime.now(UTC),
        )
    if report.failed:
        raise SystemExit("collecting the seed dumps failed")
    rng = random.Random(20260312)
    lines = [
        "[digest]",
        'sender = "Paper Digest <digest@example.org>"',
        "[smtp]",
        'host = "127.0.0.1"',
        f"port = {port}",
        'security = "none"',
        "timeout = 30",
    ]
    for number in range(subscribers):
        interests = rng.sample(INTERESTS, rng.choice((1, 1, 2, 2, 3)))
        lines += ["[[subscribers]]", f'email = "reader{number:05d}@example.org"']
        if number % 3:
            lines.append(f'name = "{NAMES[number % len(NAMES)]}"')
        lines.append(f"interests = {json.dumps(interests)}")
    config = folder / "digest.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return database, config


def copy_database(source: Path, target: Path) -> Path:
    """A consistent copy through SQLite's backup API (WAL contents included)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return target


# -- the measured paths, each in a fresh process ------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _setup(config: Path, database: Path) -> tuple[Any, Any, dict[str, float]]:
    from digest.config import load_config
    from digest.mail.render import Renderer

    started = time.perf_counter()
    settings = load_config(config, db_path=database)
    loaded = time.perf_counter()
    renderer = Renderer.load(settings.digest.templates)
    compiled = time.perf_counter()
    return settings, renderer, {"config_s": loaded - started, "templates_s": compiled - loaded}


def _send_ours(settings: Any, renderer: Any, edition: date) -> tuple[Any, float, float]:
    """send_editions as `digest send` runs it: (report, wall seconds, CPU seconds)."""
    from digest import delivery
    from digest.mail.transport import SmtpTransport
    from digest.state.store import Store

    smtp = settings.smtp
    transport = SmtpTransport(
        smtp, allow_insecure_auth=smtp.allow_insecure_auth, rate_limit=smtp.rate_limit
    )
    with Store(settings.state.url) as store:
        cpu, started = time.process_time(), time.perf_counter()
        try:
            report = delivery.send_editions(
                settings,
                store,
                renderer,
                transport,
                subscribers=list(settings.subscribers),
                now=lambda: datetime.now(UTC),
                edition=edition,
                record=True,
                retry=delivery.RetryPolicy(attempts=smtp.attempts, first_delay=smtp.retry_delay),
                sleep=time.sleep,
            )
        finally:
            transport.close()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return report, elapsed, cpu


def child_ours(config: Path, database: Path, edition: date) -> dict[str, Any]:
    settings, renderer, setup = _setup(config, database)
    before = _peak_mb()
    report, elapsed, cpu = _send_ours(settings, renderer, edition)
    return {
        **setup,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "sent": len(report.sent),
        "empty": len(report.empty),
        "failed": len(report.failed),
        "skipped": len(report.skipped),
        "peak_mb_before_send": before,
        "peak_mb": _peak_mb(),
    }


class _Keep:
    """A transport that keeps each message instead of sending it."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> Any:
        from digest.mail.transport import Delivered

        self.messages.append(message)
        return Delivered(str(message["Message-ID"]), "250 kept")

    def close(self) -> None:
        pass


def child_bare(config: Path, database: Path, edition: date) -> dict[str, Any]:
    from digest import delivery
    from digest.state.store import Store

    settings, renderer, setup = _setup(config, database)
    keep = _Keep()
    with Store(settings.state.url) as store:
        started = time.perf_counter()
        delivery.send_editions(
            settings,
            store,
            renderer,
            keep,
            subscribers=list(settings.subscribers),
            now=lambda: datetime.now(UTC),
            edition=edition,
            record=False,
            sleep=time.sleep,
        )
        built = time.perf_counter() - started
    smtp = smtplib.SMTP(settings.smtp.host, settings.smtp.port, timeout=settings.smtp.timeout)
    smtp.ehlo()
    cpu, started = time.process_time(), time.perf_counter()
    for message in keep.messages:
        smtp.send_message(message)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    smtp.quit()
    sizes = [len(message.as_bytes()) for message in keep.messages[:200]]
    return {
        **setup,
        "build_seconds": built,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "sent": len(keep.messages),
        "mean_message_kb": sum(sizes) / max(len(sizes), 1) / 1024,
        "peak_mb": _peak_mb(),
    }


class _Stages:
    """Exclusive wall time per stage: a nested stage's time is not its caller's."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[float] = []  # time spent in nested stages, per open stage

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append(0.0)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                nested = self._stack.pop()
                self.seconds[stage] = self.seconds.get(stage, 0.0) + elapsed - nested
                self.calls[stage] = self.calls.get(stage, 0) + 1
                if self._stack:
                    self._stack[-1] += elapsed

        return timed


class _GcPauses:
    """The garbage collector's pauses, whatever stage they fall in."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0

    def hear(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1


def child_breakdown(config: Path, database: Path, edition: date) -> dict[str, Any]:
    from digest import delivery, editions
    from digest.mail.render import Renderer
    from digest.mail.transport import SmtpTransport
    from digest.state.ledger import Ledger

    stages = _Stages()
    patches: list[tuple[Any, str, str]] = [
        (delivery, "_plan", "rank"),
        (editions, "footer", "render"),
        (Renderer, "render", "render"),
        (editions, "envelope", "build"),
        (delivery, "build_message", "build"),
        (SmtpTransport, "send", "send"),
        (SmtpTransport, "_connect", "connect"),
        (Ledger, "open_edition", "ledger"),
        (Ledger, "claim", "ledger"),
        (Ledger, "mark_sent", "ledger"),
        (Ledger, "mark_empty", "ledger"),
        (Ledger, "mark_failed", "ledger"),
    ]
    for owner, name, stage in patches:
        setattr(owner, name, stages.wrap(stage, getattr(owner, name)))
    settings, renderer, _setup_times = _setup(config, database)
    pauses = _GcPauses()
    gc.callbacks.append(pauses.hear)
    report, elapsed, cpu = _send_ours(settings, renderer, edition)
    gc.callbacks.remove(pauses.hear)
    sent = max(len(report.sent), 1)
    measured = sum(stages.seconds.values())
    per_message = {stage: seconds / sent * 1000 for stage, seconds in stages.seconds.items()}
    per_message["other"] = (elapsed - measured) / sent * 1000
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "sent": len(report.sent),
        "ms_per_message": per_message,
        "calls": stages.calls,
        "gc_ms_per_message": pauses.seconds / sent * 1000,
        "gc_collections": pauses.collections,
    }


def child_profile(config: Path, database: Path, edition: date, top: int) -> dict[str, Any]:
    settings, renderer, _setup_times = _setup(config, database)
    profiler = cProfile.Profile()
    profiler.enable()
    report, elapsed, _cpu = _send_ours(settings, renderer, edition)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return {"seconds": elapsed, "sent": len(report.sent), "profile": text.getvalue()}


CHILDREN: dict[str, Callable[..., dict[str, Any]]] = {
    "ours": child_ours,
    "bare": child_bare,
    "breakdown": child_breakdown,
}


def run_child(kind: str, config: Path, database: Path, *extra: str) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--config",
        str(config),
        "--db",
        str(database),
        *extra,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"the {kind} run failed:\n{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


# -- the run ------------------------------------------------------------------------------


def _run_measured(
    kind: str, sink: Sink, seeds: Path, config: Path, folder: Path, *extra: str
) -> dict[str, Any]:
    """One child run on a fresh copy of the database, checked against the sink's count."""
    database = copy_database(seeds, folder / f"{kind}-{time.monotonic_ns()}.db")
    before, sink_cpu = sink.stats()
    result = run_child(kind, config, database, *extra)
    after, sink_cpu_after = sink.stats()
    database.unlink()
    result["sink_received"] = after - before
    result["sink_cpu_seconds"] = sink_cpu_after - sink_cpu
    if kind != "profile" and result["sink_received"] != result["sent"]:
        raise SystemExit(
            f"{kind}: the sink counted {result['sink_received']} messages, "
            f"the run sent {result['sent']}"
        )
    if result["seconds"]:
        result["messages_per_second"] = result["sent"] / result["seconds"]
    return result


def measure(subscribers: int, rounds: int, profile: bool, top: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="send-bench-"))
    sink = Sink()
    try:
        started = time.perf_counter()
        seeds, config = prepare(folder, subscribers, sink.port)
        prepared = time.perf_counter() - started
        results: dict[str, Any] = {
            "subscribers": subscribers,
            "rounds": rounds,
            "prepare_seconds": prepared,
        }
        runs: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
        for _round in range(rounds):  # alternated, so that drift touches both alike
            for kind, done in runs.items():
                done.append(_run_measured(kind, sink, seeds, config, folder))
        for kind, done in runs.items():
            # The median run (the lower one of an even count) stands for the path.
            ranked = sorted(done, key=lambda run: float(run["messages_per_second"]))
            results[kind] = {
                **ranked[(len(ranked) - 1) // 2],
                "all_messages_per_second": [run["messages_per_second"] for run in done],
            }
        results["breakdown"] = _run_measured("breakdown", sink, seeds, config, folder)
        if profile:
            extra = ("--top", str(top))
            results["profile"] = _run_measured("profile", sink, seeds, config, folder, *extra)
    finally:
        sink.stop()
        shutil.rmtree(folder, ignore_errors=True)
    ours, bare = results["ours"]["messages_per_second"], results["bare"]["messages_per_second"]
    results["ratio"] = ours / bare if bare else 0.0
    results["aim"] = AIM
    return results


STAGES = {
    "rank": "candidates, pool, profiles, rank_many",
    "render": "Renderer.render + footer",
    "build": "envelope + build_message",
    "send": "SmtpTransport.send (server round trips too)",
    "connect": "opening the SMTP connection",
    "ledger": "open_edition, claim, mark_sent",
    "other": "the loop itself, report, now()",
}


def print_table(results: dict[str, Any]) -> None:
    ours, bare, parts = results["ours"], results["bare"], results["breakdown"]
    print(f"one edition ({EDITION}) to {results['subscribers']:,} subscribers")
    print(
        f"untimed: collect + config {results['prepare_seconds']:.2f} s; in the ours process "
        f"load config {ours['config_s']:.2f} s, templates {ours['templates_s']:.2f} s; bare "
        f"built its {bare['sent']:,} messages in {bare['build_seconds']:.2f} s beforehand"
    )
    print(
        f"ours: sent {ours['sent']:,}, empty {ours['empty']}, failed {ours['failed']}, "
        f"skipped {ours['skipped']}; mean message {bare['mean_message_kb']:.1f} KB"
    )
    print()
    print(
        f"{'path':<38} {'messages':>8} {'seconds':>8} {'msg/s':>6} {'ms/msg':>7} "
        f"{'cpu ms/msg':>10} {'sink cpu ms/msg':>15} {'peak MB':>8}"
    )
    for label, run in (
        ("ours: send_editions (SMTP + ledger)", ours),
        ("bare: smtplib send_message loop", bare),
    ):
        sent = max(run["sent"], 1)
        print(
            f"{label:<38} {run['sent']:>8,} {run['seconds']:>8.2f} "
            f"{run['messages_per_second']:>6.0f} {run['seconds'] / sent * 1000:>7.2f} "
            f"{run['cpu_seconds'] / sent * 1000:>10.2f} "
            f"{run['sink_cpu_seconds'] / sent * 1000:>15.2f} {run['peak_mb']:>8.0f}"
        )
    verdict = "meets" if results["ratio"] >= results["aim"] else "below"
    print(f"ratio ours / bare: {results['ratio']:.1%} ({verdict} the {results['aim']:.0%} aim)")
    if results["rounds"] > 1:
        for kind in ("ours", "bare"):
            each = ", ".join(f"{rate:.0f}" for rate in results[kind]["all_messages_per_second"])
            print(f"{kind} msg/s in each of {results['rounds']} rounds: {each} (median shown)")
    print(
        f"ours peak RSS {ours['peak_mb']:.0f} MB "
        f"({ours['peak_mb_before_send']:.0f} MB before send_editions)"
    )
    print()
    per = parts["ms_per_message"]
    total = parts["seconds"] / max(parts["sent"], 1) * 1000
    print(
        f"breakdown of ours, exclusive wall time (a separate run: {parts['seconds']:.2f} s, "
        f"{total:.2f} ms/message)"
    )
    print(f"{'stage':<8} {'ms/msg':>7} {'share':>6}  what")
    for stage in [*STAGES, *(name for name in per if name not in STAGES)]:
        if stage in per:
            what = STAGES.get(stage, "")
            print(f"{stage:<8} {per[stage]:>7.3f} {per[stage] / total:>6.1%}  {what}")
    gen0, gen1, gen2 = parts["gc_collections"]
    print(
        f"garbage collection pauses, within the stages above: "
        f"{parts['gc_ms_per_message']:.3f} ms/msg ({gen0} + {gen1} + {gen2} collections)"
    )
    if "profile" in results:
        print()
        print(results["profile"]["profile"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each path, alternated; the median counts"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--profile", action="store_true", help="also profile ours (cProfile)")
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    parser.add_argument("--child", choices=[*CHILDREN, "profile"], help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "profile":
            result = child_profile(args.config, args.db, EDITION, args.top)
        else:
            result = CHILDREN[args.child](args.config, args.db, EDITION)
        print(json.dumps(result))
        return
    if args.subscribers < 1 or args.rounds < 1:
        parser.error("--subscribers and --rounds must be at least 1")
    results = measure(args.subscribers, args.rounds, args.profile, args.top)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)


if __name__ == "__main__":
    main()
