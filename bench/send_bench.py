"""Sending at scale: one edition to many subscribers through a local SMTP sink.

Run by hand:  .venv/bin/python -m bench.send_bench [--subscribers 5000] [--rounds 1]
                  [--json] [--profile [--top 25]]

A temporary folder gets a SQLite database holding the collected seed dumps
(../shared/seeds, listed on 2026-03-12) and a config of N subscribers, each with 1-3
interest phrases out of ten (and some with a name), so that rankings differ. The SMTP
sink is tests.smtpserver's aiosmtpd server with a handler that only counts, in a process
of its own on 127.0.0.1 (a port the OS picks). Each measured path runs in a fresh process
with its own copy of the database, so its peak RSS is its own:

  ours       digest.pipeline.send.run_send as `digest send` calls it (the configured
             SmtpTransport, retries and the real ledger), edition 2026-03-12.
             Timed: the whole call (ledger rows opened, candidates read, ranking,
             rendering, message building, sending, every claim and every "sent").
             Not timed: process start-up, loading the config and the templates.
  bare       the same messages, built beforehand through send_editions with a
             transport that keeps them (record=False), then sent over one plain
             smtplib.SMTP connection, `smtp.sendmail(sender, recipients, data)` of
             their bytes in a loop; only the loop is timed.
  breakdown  ours again (fresh database copy) under cProfile, which observes every call
             and changes no code. A stage's time is what the send loop (the functions of
             digest.pipeline.send and .delivery) spends in its calls into the stage's modules, from
             the profile's caller-to-callee times (digest.mail.compose, which only
             orders render and build, counts as the loop): rank (Papers.candidates,
             Subscriber.profile, build_pool, rank_many), render (Renderer.render), build
             (footer, envelope, build_message, DKIM), send (SmtpTransport: the server's
             round trips included), ledger (open_edition, delivered_ids, claim, mark_sent);
             "other" is the rest of the call. Plus the garbage collector's pauses (which
             fall inside those stages). Profiling adds a cost to every Python call, more
             in stages of many small calls, so its absolute times are inflated: read the
             breakdown as shares.

With --rounds N, ours and bare run N times each, alternately, and the median run of each
counts (runs against the local sink vary by 10-15%). With --profile, the breakdown run's
top functions are printed too. Aim: ours at least 80% of the bare loop's messages per
second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import importlib
import io
import json
import multiprocessing
import multiprocessing.connection
import pstats
import random
import shutil
import smtplib
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.common import peak_mb, run_module
from tests.seeds import INTERESTS as SEED_INTERESTS
from tests.seeds import SEEDS

EDITION = date(2026, 3, 12)  # the listing date of the seed dumps
AIM = 0.80
INTERESTS = (
    *SEED_INTERESTS,
    "large language models",
    "reinforcement learning",
    "object detection",
    "image generation",
)
NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov")
# The stages of the breakdown: the modules the send loop calls into, and what they do.
# compose only calls render, then build: its calls count as the loop's.
DRIVERS = ("digest.pipeline.send", "digest.pipeline.delivery", "digest.mail.compose")
STAGES = {
    "rank": (
        ("digest.state.papers", "digest.subscribers", "digest.rank"),
        "candidates read, profiles, build_pool, rank_many",
    ),
    "render": (("digest.mail.render",), "Renderer.render"),
    "build": (
        ("digest.mail.envelope", "digest.mail.message", "digest.mail.signing"),
        "footer, envelope, build_message, DKIM",
    ),
    "send": (("digest.mail.transport",), "SmtpTransport (server round trips too)"),
    "ledger": (("digest.state.ledger",), "open_edition, delivered_ids, claim, mark_sent"),
    "other": ((), "the loop itself, report, now()"),
}


# -- the SMTP sink, in its own process ----------------------------------------------------


def _sink_main(conn: multiprocessing.connection.Connection, latency: float) -> None:
    """Serve SMTP on 127.0.0.1 until told to stop over `conn`, waiting `latency` seconds
    before answering each message (as a distant relay does); answer each command with
    (messages counted, this process's CPU seconds)."""
    from aiosmtpd.smtp import SMTP, Envelope

    from tests.smtpserver import CountingHandler, SmtpServer

    class SlowCountingHandler(CountingHandler):
        async def reply(self, server: SMTP, envelope: Envelope, number: int) -> str:
            await asyncio.sleep(latency)
            return await super().reply(server, envelope, number)

    with SmtpServer(SlowCountingHandler() if latency else CountingHandler()) as server:
        conn.send(server.port)
        while True:
            command = conn.recv()
            conn.send((server.handler.data_count, time.process_time()))
            if command == "stop":
                return


class Sink:
    """The sink process: `port`, `stats()` (messages counted, its CPU seconds), `count()`,
    `stop()`; `latency` seconds before each answer."""

    def __init__(self, latency: float = 0.0) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_sink_main, args=(child, latency), daemon=True)
        self._process.start()
        if not self._conn.poll(30):
            self._process.kill()
            raise SystemExit("the SMTP sink did not start")
        self.port: int = self._conn.recv()

    def count(self) -> int:
        return self.stats()[0]

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


def collect_seeds(url: str) -> None:
    """Collect the seed dumps into the database at `url`."""
    from digest.collect.locate import SourceSpec
    from digest.config import CollectSettings
    from digest.pipeline.collect import collect
    from digest.state.store import Store

    if not any(SEEDS.glob("*.txt")):
        raise SystemExit(f"no seed dumps in {SEEDS}")
    with Store(url) as store:
        report = collect(
            [SourceSpec(name="seeds", location=str(SEEDS))],
            store,
            settings=CollectSettings(),
            now=datetime.now(UTC),
        )
    if report.failed:
        raise SystemExit("collecting the seed dumps failed")


def prepare(folder: Path, subscribers: int, port: int) -> tuple[Path, Path]:
    """Collect the seeds into a database and write a config of `subscribers` readers."""
    database = folder / "seeds.db"
    collect_seeds(f"sqlite:///{database}")
    config = write_config(folder, subscribers=subscribers, port=port)
    return database, config


def write_config(folder: Path, *, subscribers: int, port: int, extra: tuple[str, ...] = ()) -> Path:
    """A digest.toml of `subscribers` readers with 1-3 seed interests each (the same ones
    every run), sending to the sink on `port`; `extra` lines go in first."""
    rng = random.Random(20260312)
    lines = [
        *extra,
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
    return config


def copy_database(source: Path, target: Path) -> Path:
    """A consistent copy through SQLite's backup API (WAL contents included)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return target


# -- the measured paths, each in a fresh process ------------------------------------------


def _setup(config: Path, database: Path) -> tuple[Any, Any, dict[str, float]]:
    from digest.config import load_config
    from digest.mail.render import Renderer

    started = time.perf_counter()
    settings = load_config(config, db_path=database)
    loaded = time.perf_counter()
    renderer = Renderer.load(settings.digest.templates)
    compiled = time.perf_counter()
    return settings, renderer, {"config_s": loaded - started, "templates_s": compiled - loaded}


def _send_ours(
    settings: Any, renderer: Any, edition: date, profiler: cProfile.Profile | None = None
) -> tuple[Any, float, float]:
    """run_send as `digest send` calls it: (report, wall seconds, CPU seconds)."""
    from digest.pipeline.send import run_send
    from digest.state.store import Store
    from digest.subscribers import all_subscribers

    subscribers = all_subscribers(settings)
    with Store(settings.state.url) as store, profiler or contextlib.nullcontext():
        cpu, started = time.process_time(), time.perf_counter()
        report = run_send(settings, store, renderer, subscribers=subscribers, edition=edition)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return report, elapsed, cpu


def child_ours(config: Path, database: Path, edition: date, top: int) -> dict[str, Any]:
    settings, renderer, setup = _setup(config, database)
    before = peak_mb()
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
        "peak_mb": peak_mb(),
    }


class Keep:
    """A transport that keeps each message instead of sending it."""

    def __init__(self) -> None:
        self.messages: list[Any] = []  # digest.mail.message.WireMessage

    def send(self, message: Any) -> Any:
        from digest.mail.transport import Delivered

        self.messages.append(message)
        return Delivered(message.message_id, "250 kept")

    def close(self) -> None:
        pass


def child_bare(config: Path, database: Path, edition: date, top: int) -> dict[str, Any]:
    from digest.pipeline.send import send_editions
    from digest.state.store import Store
    from digest.subscribers import all_subscribers

    settings, renderer, setup = _setup(config, database)
    keep = Keep()
    with Store(settings.state.url) as store:
        started = time.perf_counter()
        send_editions(
            settings,
            store,
            renderer,
            keep,
            subscribers=all_subscribers(settings),
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
        smtp.sendmail(message.sender, list(message.recipients), message.data)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    smtp.quit()
    sizes = [len(message.data) for message in keep.messages[:200]]
    return {
        **setup,
        "build_seconds": built,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "sent": len(keep.messages),
        "mean_message_kb": sum(sizes) / max(len(sizes), 1) / 1024,
        "peak_mb": peak_mb(),
    }


class GcPauses:
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


def _files(module_name: str) -> tuple[Path, bool]:
    """Where a module's code is: its file, or its folder for a package (True)."""
    module = importlib.import_module(module_name)
    path = Path(str(module.__file__)).resolve()
    return (path.parent, True) if hasattr(module, "__path__") else (path, False)


def stage_seconds(stats: pstats.Stats) -> dict[str, float]:
    """Seconds the send loop spent in calls into each stage's modules, from the profile's
    caller-to-callee edges (a stage never calls the send loop back, so none counts twice)."""
    drivers = {_files(name)[0] for name in DRIVERS}
    places = {stage: [_files(name) for name in modules] for stage, (modules, _) in STAGES.items()}

    def stage_of(filename: str) -> str | None:
        path = Path(filename).resolve()
        for stage, where in places.items():
            if any(path.is_relative_to(p) if folder else path == p for p, folder in where):
                return stage
        return None

    seconds = dict.fromkeys(STAGES, 0.0)
    # pstats keeps, for each function (file, line, name), its callers: caller -> (calls,
    # primitive calls, own time, cumulative time) of the calls along that edge.
    for (filename, _line, _name), (*_counts, callers) in stats.stats.items():
        stage = stage_of(filename)
        if stage is None:
            continue
        for (caller_file, _caller_line, _caller_name), edge in callers.items():
            if caller_file != "~" and Path(caller_file).resolve() in drivers:
                seconds[stage] += edge[3]
    return seconds


def child_breakdown(config: Path, database: Path, edition: date, top: int) -> dict[str, Any]:
    settings, renderer, _setup_times = _setup(config, database)
    pauses = GcPauses()
    profiler = cProfile.Profile()
    gc.callbacks.append(pauses.hear)
    report, elapsed, cpu = _send_ours(settings, renderer, edition, profiler)
    gc.callbacks.remove(pauses.hear)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    seconds = stage_seconds(stats)
    seconds["other"] = elapsed - sum(seconds.values())
    sent = max(len(report.sent), 1)
    if top:
        stats.strip_dirs().sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "sent": len(report.sent),
        "ms_per_message": {stage: value / sent * 1000 for stage, value in seconds.items()},
        "gc_ms_per_message": pauses.seconds / sent * 1000,
        "gc_collections": pauses.collections,
        "profile": text.getvalue(),
    }


CHILDREN: dict[str, Callable[[Path, Path, date, int], dict[str, Any]]] = {
    "ours": child_ours,
    "bare": child_bare,
    "breakdown": child_breakdown,
}


# -- the run ------------------------------------------------------------------------------


def _run_measured(
    kind: str, sink: Sink, seeds: Path, config: Path, folder: Path, top: int = 0
) -> dict[str, Any]:
    """One child run on a fresh copy of the database, checked against the sink's count."""
    database = copy_database(seeds, folder / f"{kind}-{time.monotonic_ns()}.db")
    before, sink_cpu = sink.stats()
    result = run_module(
        "bench.send_bench",
        *("--child", kind, "--config", str(config), "--db", str(database), "--top", str(top)),
    )
    after, sink_cpu_after = sink.stats()
    database.unlink()
    result["sink_received"] = after - before
    result["sink_cpu_seconds"] = sink_cpu_after - sink_cpu
    if result["sink_received"] != result["sent"]:
        raise SystemExit(
            f"{kind}: the sink counted {result['sink_received']} messages, "
            f"the run sent {result['sent']}"
        )
    if result["seconds"]:
        result["messages_per_second"] = result["sent"] / result["seconds"]
    return result


def measure(subscribers: int, rounds: int, top: int) -> dict[str, Any]:
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
        results["breakdown"] = _run_measured("breakdown", sink, seeds, config, folder, top)
    finally:
        sink.stop()
        shutil.rmtree(folder, ignore_errors=True)
    ours, bare = results["ours"]["messages_per_second"], results["bare"]["messages_per_second"]
    results["ratio"] = ours / bare if bare else 0.0
    results["aim"] = AIM
    return results


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
        ("ours: run_send (SMTP + ledger)", ours),
        ("bare: smtplib sendmail loop", bare),
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
        f"({ours['peak_mb_before_send']:.0f} MB before run_send)"
    )
    print()
    per = parts["ms_per_message"]
    total = parts["seconds"] / max(parts["sent"], 1) * 1000
    print(
        f"breakdown of ours under cProfile (a separate run: {parts['seconds']:.2f} s, "
        f"{total:.2f} ms/message; profiling inflates the times, read the shares)"
    )
    print(f"{'stage':<8} {'share':>6} {'ms/msg':>7}  what")
    for stage, (_modules, what) in STAGES.items():
        print(f"{stage:<8} {per[stage] / total:>6.1%} {per[stage]:>7.3f}  {what}")
    gen0, gen1, gen2 = parts["gc_collections"]
    print(
        f"garbage collection pauses, within the stages above: "
        f"{parts['gc_ms_per_message']:.3f} ms/msg ({gen0} + {gen1} + {gen2} collections)"
    )
    if parts["profile"]:
        print()
        print(parts["profile"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each path, alternated; the median counts"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--profile", action="store_true", help="also print the breakdown run's top functions"
    )
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    parser.add_argument("--child", choices=CHILDREN, help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.config, args.db, EDITION, args.top)))
        return
    if args.subscribers < 1 or args.rounds < 1:
        parser.error("--subscribers and --rounds must be at least 1")
    results = measure(args.subscribers, args.rounds, args.top if args.profile else 0)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)


if __name__ == "__main__":
    main()
