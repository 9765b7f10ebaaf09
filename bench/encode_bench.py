"""Encoding one day's new papers with the sentence encoder, by one process or several
at once on one database (several senders or collectors starting together).

Run by hand:  .venv/bin/python -m bench.encode_bench [--papers 2000] [--processes 1 2]
                  [--semantic-model auto]

For each count of processes: a new SQLite database, then that many processes started
together, each finding every paper without a vector and calling
`digest.pipeline.pool.embeddings` on them (the step `digest collect` and the sends
run), as several machines would. Prints each process's share, the papers encoded in
all (1.00x: each paper once) and the wall time. The papers are rank_bench's: seed
abstracts lengthened with recombined sentences, about 256 tokens each.
--semantic-model names the model(s) as bench.relevance_eval does ("auto", a folder, or
several separated by commas).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import encoder_of
from bench.rank_bench import make_candidates


def worker(url: str, papers: int, model: str) -> None:
    from digest.pipeline.pool import embeddings
    from digest.state.store import Store

    encoder = encoder_of(model)
    if encoder is None:
        raise SystemExit("--semantic-model off: nothing to encode with")
    candidates = make_candidates(papers, random.Random(7))
    with Store(url) as store:
        found = embeddings(store.vectors, encoder, candidates)
    print(json.dumps({"encoded": found.encoded, "seconds": found.seconds}))


def run(processes: int, papers: int, model: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="encode-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'digest.db'}"
        from digest.state.store import Store

        Store(url).close()  # the schema, before the processes race to make it
        started = time.perf_counter()
        running = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.encode_bench",
                    "--worker",
                    url,
                    "--papers",
                    str(papers),
                    "--semantic-model",
                    model,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        shares = []
        for process in running:
            out, _ = process.communicate()
            if process.returncode != 0:
                raise SystemExit(f"a worker failed (exit {process.returncode})")
            shares.append(json.loads(out)["encoded"])
        wall = time.perf_counter() - started
    return {"processes": processes, "shares": shares, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--semantic-model", default="auto", help="the model(s) to encode with")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.papers, args.semantic_model)
        return
    for count in args.processes:
        result = run(count, args.papers, args.semantic_model)
        shares = result["shares"]
        assert isinstance(shares, list)
        print(
            f"{count} process(es): shares {' + '.join(map(str, shares))} = "
            f"{sum(shares) / args.papers:.2f}x the papers, {result['wall']:.1f} s wall",
            flush=True,
        )


if __name__ == "__main__":
    main()
