"""Start-up: the wall time of fresh `digest` processes, against bare Python and click.

Run by hand:  .venv/bin/python -m bench.startup_bench [--runs 20]

Each command runs --runs times in a fresh process of this interpreter (sys.executable),
in a temporary folder with no digest.toml, the commands taking turns so that drift
touches all alike, after one untimed run each (bytecode caches written). It prints the
median and the fastest run of each:

  python -c pass                    the interpreter alone
  python -c "import click"          the floor for any click program
  python -m digest --help           help, through the package's __main__
  digest --help                     help, through the console script beside this Python
  digest check --config <missing>   a config error (exit 2)
  digest check --config <valid>     a small valid config, checked and summarised

and each one's time over `import click`: the aim is `digest --help` within 3x of it. For
the digest commands it also lists which of numpy, scipy, sqlalchemy, mjml and httpx the
process imported (a second run through a tiny wrapper that reads sys.modules when the
command exits): the aim for help and the config error is none.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HEAVY = ("numpy", "scipy", "sqlalchemy", "mjml", "httpx")
AIM = 3.0
# Runs `digest ARGS` as `python -m digest` does, then says which heavy packages it imported.
PROBE = f"""
import runpy, sys
sys.argv[0] = "digest"
try:
    runpy.run_module("digest", run_name="__main__", alter_sys=True)
finally:
    heavy = [name for name in {HEAVY!r} if name in sys.modules]
    print("heavy:", " ".join(heavy) or "none", file=sys.stderr)
"""
CONFIG = """\
[digest]
sender = "Paper Digest <digest@example.org>"

[smtp]
host = "127.0.0.1"
port = 2525
security = "none"

[[subscribers]]
email = "ada@example.org"
interests = ["graph neural networks"]
"""


@dataclass(frozen=True, slots=True)
class Command:
    """One command line; `digest` holds its arguments when it is a digest command, whose
    heavy imports are then probed."""

    label: str
    argv: tuple[str, ...]
    exit_code: int = 0
    digest: tuple[str, ...] | None = None


def commands(folder: Path) -> list[Command]:
    python = sys.executable
    config = folder / "small.toml"
    config.write_text(CONFIG, encoding="utf-8")

    def digest(label: str, *args: str, exit_code: int = 0) -> Command:
        return Command(label, (python, "-m", "digest", *args), exit_code, args)

    listed = [
        Command("python -c pass", (python, "-c", "pass")),
        Command('python -c "import click"', (python, "-c", "import click")),
        digest("python -m digest --help", "--help"),
    ]
    script = Path(python).with_name("digest")
    if script.is_file():
        label = "digest --help (console script)"
        listed.append(Command(label, (str(script), "--help"), digest=("--help",)))
    missing = str(folder / "missing.toml")
    return [
        *listed,
        digest("digest check, config missing", "check", "--config", missing, exit_code=2),
        digest("digest check, valid config", "check", "--config", str(config)),
    ]


def run_once(command: Command, folder: Path) -> float:
    """Seconds one fresh process of `command` takes, its exit code checked."""
    started = time.perf_counter()
    result = subprocess.run(
        command.argv, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    seconds = time.perf_counter() - started
    if result.returncode != command.exit_code:
        raise SystemExit(
            f"{command.label}: exit {result.returncode}, not {command.exit_code}\n"
            + result.stderr.decode(errors="replace")
        )
    return seconds


def heavy_imports(command: Command, folder: Path) -> str:
    """Which heavy packages the digest command imported, as the probe reports them."""
    if command.digest is None:
        return "-"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *command.digest],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("heavy:")]
    return lines[-1].removeprefix("heavy:").strip() if lines else "? (no report)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each command")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as scratch:
        folder = Path(scratch)
        listed = commands(folder)
        for command in listed:  # untimed: bytecode caches, the file system's caches
            run_once(command, folder)
        times: dict[str, list[float]] = {command.label: [] for command in listed}
        for _run in range(args.runs):
            for command in listed:
                times[command.label].append(run_once(command, folder))
        heavy = {command.label: heavy_imports(command, folder) for command in listed}
    click = statistics.median(times['python -c "import click"'])
    print(f"{sys.executable}, {args.runs} runs of each command")
    print()
    print(f"{'command':<32} {'median ms':>9} {'min ms':>7} {'x click':>7}  heavy imports")
    for command in listed:
        median = statistics.median(times[command.label])
        print(
            f"{command.label:<32} {1000 * median:>9.1f} {1000 * min(times[command.label]):>7.1f} "
            f"{median / click:>7.2f}  {heavy[command.label]}"
        )
    ratio = statistics.median(times["python -m digest --help"]) / click
    verdict = "met" if ratio <= AIM else "NOT met"
    print()
    print(f"digest --help / import click: {ratio:.2f}x (aim: within {AIM:.0f}x: {verdict})")


if __name__ == "__main__":
    main()
