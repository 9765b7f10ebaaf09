"""Several senders sharing one edition on PostgreSQL: messages per second for 1, 2, 3...

Run by hand:  .venv/bin/python -m bench.workers_bench [--subscribers 2000]
                  [--workers 1 2 3] [--batch 25] [--latency 0.05] [--json]

A throwaway PostgreSQL cluster (tests.pgserver, run as an unprivileged user, with fsync
and full-page writes on, as in production) gets the collected seed dumps
(../shared/seeds, listed on 2026-03-12) and a config of N subscribers with 1-3 interest
phrases each. The SMTP sink is an aiosmtpd server that counts messages, in a process of
its own on 127.0.0.1; with --latency it waits that long before answering each message,
as a distant relay does (its connections wait side by side, as a real relay's would).
For each worker count W, the ledger is emptied and W `digest send` processes start at
once, each with a host id of its own (DIGEST_WORKER_HOST), as W machines would; they
claim batches of the edition with SELECT ... FOR UPDATE SKIP LOCKED.

Timed: from starting the processes to the last one's exit, so each run pays its Python
start-up (about a second) once per process, as a real one does. Reported: messages per
second over that wall time, each worker's share of the messages, and the sink's count
(every subscriber exactly once is checked). On a machine with fewer cores than
workers, the workers compete for CPU: the numbers say what this machine does, not what W
machines would.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.send_bench import Sink, collect_seeds, write_config
from tests.pgserver import MISSING, PostgresServer, server_in_temp_folder

EDITION = "2026-03-12"  # the listing date of the seed dumps
ROOT = Path(__file__).resolve().parent.parent


def empty_ledger(server: PostgresServer) -> None:
    server.execute("DELETE FROM deliveries; DELETE FROM delivered_papers")


def run_workers(config: Path, url: str, workers: int) -> tuple[float, list[dict[str, Any]]]:
    """Start `workers` senders at once; (wall seconds, their JSON reports)."""
    command = [sys.executable, "-m", "digest", "send", "--date", EDITION, "--json"]
    command += ["--config", str(config), "--db", url]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            command,
            cwd=config.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ | {"DIGEST_WORKER_HOST": f"bench-host-{number}"},
        )
        for number in range(workers)
    ]
    outputs = [process.communicate() for process in processes]
    seconds = time.perf_counter() - started
    for process, (_stdout, stderr) in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise SystemExit(f"a sender failed ({process.returncode}):\n{stderr}")
    return seconds, [json.loads(stdout) for stdout, _stderr in outputs]


def measure(subscribers: int, counts: list[int], batch: int, latency: float) -> dict[str, Any]:
    server = server_in_temp_folder(durable=True)
    if server is None:
        raise SystemExit(MISSING)
    sink = Sink(latency)
    results: dict[str, Any] = {
        "subscribers": subscribers,
        "batch_size": batch,
        "relay_latency": latency,
        "runs": [],
    }
    try:
        server.start()
        url = server.url()
        collect_seeds(url)
        with tempfile.TemporaryDirectory(prefix="workers-bench-") as folder:
            config = write_config(
                Path(folder),
                subscribers=subscribers,
                port=sink.port,
                extra=("[delivery]", f"batch_size = {batch}"),
            )
            for workers in counts:
                empty_ledger(server)
                before = sink.count()
                seconds, reports = run_workers(config, url, workers)
                received = sink.count() - before
                sent = [len(report["sent"]) for report in reports]
                if sum(sent) != subscribers or received < subscribers:
                    raise SystemExit(f"{workers} workers: sent {sent}, sink got {received}")
                results["runs"].append(
                    {
                        "workers": workers,
                        "seconds": round(seconds, 2),
                        "messages_per_second": round(subscribers / seconds, 1),
                        "sent_per_worker": sent,
                        "received": received,
                    }
                )
    finally:
        sink.stop()
        server.stop()
    return results


def print_table(results: dict[str, Any]) -> None:
    print(
        f"{results['subscribers']} subscribers, batches of {results['batch_size']}, "
        f"PostgreSQL, local SMTP sink answering after {results['relay_latency'] * 1000:.0f} ms, "
        f"{os.cpu_count()} cores"
    )
    print(f"{'workers':>7}  {'seconds':>8}  {'msg/s':>7}  {'speed-up':>8}  sent per worker")
    base = results["runs"][0]["messages_per_second"] if results["runs"] else 1.0
    for run in results["runs"]:
        rate = run["messages_per_second"]
        print(
            f"{run['workers']:>7}  {run['seconds']:>8.2f}  {rate:>7.1f}  "
            f"{rate / base:>7.2f}x  {run['sent_per_worker']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--latency", type=float, default=0.0, help="relay seconds per message")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.chdir(ROOT)
    results = measure(args.subscribers, args.workers, args.batch, args.latency)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)


if __name__ == "__main__":
    main()
