"""Rendering at scale: one edition's emails for many subscribers, on one core.

Run by hand:  .venv/bin/python -m bench.render_bench [--subscribers 10000] [--naive 300]
                  [--seed 7] [--json]

The pool is every distinct paper of the seed dumps (tests.seeds.seed_candidates). A few
interest profiles are ranked over it (20 picks each); each subscriber gets one profile and
10 of its picks (a random subset, best first), a name from a rotating list (some none) and
an address, so no two consecutive emails are alike. Editions are built before the clock
starts; only rendering is timed, in this one process pinned to one CPU.

Two paths render the same editions with Renderer.render, through the public API of
digest.mail.render alone (the subclasses below are the benchmark's; nothing is patched):

  compiled  the Renderer: the MJML layout compiled to HTML once at load, then filled by
            Jinja per email (what the product does)
  naive     for comparison only, not product code: per email, Jinja fills the MJML
            source (`mjml_template`) and mjml2html compiles the result. It overrides the
            public `fill_html`, which `render` fills the HTML through, so that context,
            size budget and text part are the real ones and the HTML step alone differs.

Both time the two fills `render` makes by wrapping `fill_html` and `fill_text`.

It prints a table: emails, seconds, emails per second and milliseconds per email for
each path, the load (compile) time, and the speed-up. Aims: the compiled path at least
10x the naive one and at least 2,000 emails per second on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from mjml import mjml2html

from digest.mail.envelope import Footer
from digest.mail.render import Card, Digest, Renderer, mjml_template
from digest.models import Profile, ScoredPaper
from digest.rank.pool import build_pool
from digest.rank.ranker import rank
from tests.seeds import SEEDS, seed_candidates

TODAY = date(2026, 11, 21)
FIRST_SEEN = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
PICKS = 10
PROFILE_DEPTH = 20
PROFILES = (
    ("graph neural networks", "link prediction"),
    ("video understanding",),
    ("model compression", "efficient inference"),
    ("recommender systems",),
    ("diffusion models",),
    ("large language models", "reasoning"),
    ("reinforcement learning", "robotics"),
    ("object detection", "segmentation"),
    ("speech recognition",),
    (),  # everything trending
)
FIRST_NAMES = ("Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Donald", "Frances")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Allen")
FOOTER = Footer(
    sender_name="Paper Digest",
    contact="Paper Digest, 1 Example Street, Springfield",
    manage_url="https://digest.example.org/manage",
    unsubscribe_url="https://digest.example.org/unsubscribe?token=0123456789abcdef",
)


def make_editions(count: int, rng: random.Random) -> list[Digest]:
    """`count` subscribers' editions: a profile's picks, 10 of its best 20, in order."""
    candidates = seed_candidates(SEEDS, today=TODAY, first_seen=FIRST_SEEN)
    if not candidates:
        raise SystemExit(f"no seed dumps in {SEEDS}")
    pool = build_pool(candidates, today=TODAY)
    ranked: list[tuple[tuple[str, ...], tuple[ScoredPaper, ...]]] = []
    for number, interests in enumerate(PROFILES):
        profile = Profile(name=f"p{number}", interests=interests, max_papers=PROFILE_DEPTH)
        picks = rank(pool, profile)
        if len(picks) >= PICKS:
            ranked.append((interests, picks))
    if not ranked:
        raise SystemExit("no profile has enough picks")
    editions = []
    for number in range(count):
        interests, picks = ranked[number % len(ranked)]
        chosen = sorted(rng.sample(range(len(picks)), PICKS))
        first = FIRST_NAMES[number % len(FIRST_NAMES)]
        last = LAST_NAMES[(number // len(FIRST_NAMES)) % len(LAST_NAMES)]
        editions.append(
            Digest(
                edition=TODAY,
                recipient_name=None if number % 7 == 0 else f"{first} {last}",
                recipient_email=f"{first}.{last}.{number}@example.org".lower(),
                interests=interests,
                picks=tuple(picks[index] for index in chosen),
            )
        )
    return editions


class TimedRenderer(Renderer):
    """The product's Renderer, timing the two template fills `render` makes through its
    public `fill_html` and `fill_text`: seconds["html"] (budget retries included) and
    seconds["text"]."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seconds = dict.fromkeys(("html", "text", "mjml2html"), 0.0)

    def fill_html(self, context: dict[str, Any], cards: Sequence[Card], dropped: int = 0) -> str:
        with clock(self.seconds, "html"):
            return self.html_of(context, cards, dropped)

    def html_of(self, context: dict[str, Any], cards: Sequence[Card], dropped: int) -> str:
        return super().fill_html(context, cards, dropped)

    def fill_text(self, context: dict[str, Any], cards: Sequence[Card], dropped: int = 0) -> str:
        with clock(self.seconds, "text"):
            return super().fill_text(context, cards, dropped)


class NaiveRenderer(TimedRenderer):
    """Benchmark baseline, not product code: MJML compiled once per email.

    Every HTML fill runs Jinja over the MJML source (includes spliced in) and then
    mjml2html over the result, timed as seconds["mjml2html"]; everything else (cards,
    context, size budget, plain text) is the real Renderer's.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mjml = mjml_template()

    def html_of(self, context: dict[str, Any], cards: Sequence[Card], dropped: int) -> str:
        source = self.mjml.render(context, cards=tuple(cards), dropped=dropped)
        with clock(self.seconds, "mjml2html"):
            return mjml2html(source)


@contextmanager
def clock(totals: dict[str, float], key: str) -> Iterator[None]:
    """Add the seconds the block takes to totals[key]."""
    start = time.perf_counter()
    try:
        yield
    finally:
        totals[key] += time.perf_counter() - start


@dataclass(frozen=True, slots=True)
class Timing:
    emails: int
    seconds: float
    html_seconds: float
    text_seconds: float
    mjml_seconds: float
    html_bytes: float
    dropped: int

    @property
    def per_second(self) -> float:
        return self.emails / self.seconds

    def ms(self, seconds: float) -> float:
        """Milliseconds per email."""
        return 1000 * seconds / self.emails

    def as_dict(self) -> dict[str, float]:
        return {
            "emails": self.emails,
            "seconds": self.seconds,
            "per_second": self.per_second,
            "ms_per_email": self.ms(self.seconds),
            "html_ms_per_email": self.ms(self.html_seconds),
            "text_ms_per_email": self.ms(self.text_seconds),
            "mjml2html_ms_per_email": self.ms(self.mjml_seconds),
            "html_bytes": self.html_bytes,
            "dropped": self.dropped,
        }


def timed(renderer: TimedRenderer, editions: Sequence[Digest]) -> Timing:
    sizes: list[int] = []
    dropped = 0
    renderer.seconds = dict.fromkeys(renderer.seconds, 0.0)
    start = time.perf_counter()
    for edition in editions:
        email = renderer.render(edition, FOOTER)
        sizes.append(len(email.html))
        dropped += email.dropped
    seconds = time.perf_counter() - start
    parts = renderer.seconds
    return Timing(
        len(editions),
        seconds,
        parts["html"],
        parts["text"],
        parts["mjml2html"],
        statistics.fmean(sizes),
        dropped,
    )


def pin_to_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--naive", type=int, default=300, help="emails for the naive path")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    editions = make_editions(args.subscribers, random.Random(args.seed))
    pinned = pin_to_one_cpu()

    start = time.perf_counter()
    compiled_path = TimedRenderer.load()
    load_seconds = time.perf_counter() - start
    naive_path = NaiveRenderer.load()

    # Warm both paths (Jinja's and MRML's first-call work) before timing.
    timed(compiled_path, editions[:20])
    timed(naive_path, editions[:5])
    compiled = timed(compiled_path, editions)
    naive = timed(naive_path, editions[: args.naive])
    speedup = compiled.per_second / naive.per_second
    html_speedup = naive.ms(naive.html_seconds) / compiled.ms(compiled.html_seconds)

    if args.json:
        result = {
            "load_seconds": load_seconds,
            "compiled": compiled.as_dict(),
            "naive": naive.as_dict(),
            "speedup": speedup,
            "html_speedup": html_speedup,
            "cpu": pinned,
        }
        print(json.dumps(result))
        return
    print(f"{args.subscribers:,} editions of {PICKS} papers, {len(PROFILES)} profiles; {pinned}")
    print(f"Renderer.load (MJML compiled once): {1000 * load_seconds:.1f} ms")
    print()
    print(
        f"{'path':<9} {'emails':>7} {'seconds':>8} {'emails/s':>9} {'ms/email':>9} "
        f"{'HTML ms':>8} {'text ms':>8} {'rest ms':>8} {'HTML KB':>8}"
    )
    for name, timing in (("compiled", compiled), ("naive", naive)):
        rest = timing.seconds - timing.html_seconds - timing.text_seconds
        print(
            f"{name:<9} {timing.emails:>7,} {timing.seconds:>8.2f} {timing.per_second:>9,.0f} "
            f"{timing.ms(timing.seconds):>9.3f} {timing.ms(timing.html_seconds):>8.3f} "
            f"{timing.ms(timing.text_seconds):>8.3f} {timing.ms(rest):>8.3f} "
            f"{timing.html_bytes / 1024:>8.1f}"
        )
    print()
    print("HTML ms: Jinja fill (+ mjml2html for naive) per email, budget retries included;")
    print(f"  of which mjml2html in the naive path: {naive.ms(naive.mjml_seconds):.3f} ms")
    print("text ms: the plain-text template; rest ms: cards, subject, preheader, the rest.")
    print()
    verdict = {True: "met", False: "NOT met"}
    print(f"speed-up, whole email: {speedup:.1f}x (aim 10x: {verdict[speedup >= 10]})")
    print(f"speed-up, HTML step alone: {html_speedup:.1f}x")
    print(
        f"compiled path on one core: {compiled.per_second:,.0f} emails/s "
        f"(aim 2,000: {verdict[compiled.per_second >= 2000]})"
    )
    if compiled.dropped or naive.dropped:
        print(f"papers left out for size: compiled {compiled.dropped}, naive {naive.dropped}")


if __name__ == "__main__":
    main()
