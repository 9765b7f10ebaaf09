"""Rendering at scale: one edition's emails for many subscribers, on one core.

Run by hand:  .venv/bin/python bench/render_bench.py [--subscribers 10000] [--naive 300]

The pool is every distinct paper of the seed dumps (../shared/seeds). A few interest
profiles are ranked over it (20 picks each); each subscriber gets one profile and 10 of
its picks (a random subset, best first), a name from a rotating list (some none) and an
address, so no two consecutive emails are alike. Editions are built before the clock
starts; only rendering is timed, in this one process pinned to one CPU.

Two paths render the same editions:

  compiled  digest.render.Renderer: the MJML layout compiled to HTML once at load,
            then filled by Jinja per email (what the product does)
  naive     for comparison only, not product code: per email, Jinja fills the MJML
            source and mjml2html compiles the result. It reuses Renderer's context,
            size budget and text part by overriding its private `_fill` so that the
            HTML step alone differs, and builds the MJML source with the renderer's
            private include splicing (`digest.render._splice`).

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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2
from mjml import mjml2html

from digest.collect.dump import parse_dump
from digest.identity import canonical_id
from digest.mail import render
from digest.mail.envelope import Footer
from digest.mail.render import Digest, RenderedEmail, Renderer
from digest.models import Candidate, Profile, ScoredPaper
from digest.rank.pool import build_pool
from digest.rank.ranker import rank

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
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


def seed_candidates(seeds: Path = SEEDS) -> list[Candidate]:
    """Every distinct seed paper, with its listings and sources counted."""
    dumps = sorted(seeds.glob("*.txt"))
    if not dumps:
        raise SystemExit(f"no seed dumps in {seeds}")
    found: dict[str, Candidate] = {}
    for path in dumps:
        for entry in parse_dump(path.read_bytes(), today=TODAY).entries:
            key = canonical_id(entry.paper)
            seen = found.get(key)
            best = entry.position
            if seen is not None and seen.best_position is not None:
                best = min(best, seen.best_position)
            found[key] = Candidate(
                id=key,
                paper=seen.paper if seen else entry.paper,
                sources=(seen.sources if seen else 0) + 1,
                listings=(seen.listings if seen else 0) + 1,
                best_position=best,
                upvotes=None,
                first_seen=FIRST_SEEN,
            )
    return list(found.values())


def make_editions(count: int, rng: random.Random) -> list[Digest]:
    """`count` subscribers' editions: a profile's picks, 10 of its best 20, in order."""
    pool = build_pool(seed_candidates(), today=TODAY)
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
    """The product's Renderer, timing its two template fills: HTML (0) and text (1)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fill_seconds = [0.0, 0.0]
        self.mjml_seconds = 0.0

    def _fill(
        self,
        template: jinja2.Template,
        which: int,
        context: dict[str, Any],
        cards: Sequence[render.Card],
        dropped: int,
    ) -> str:
        start = time.perf_counter()
        try:
            return self._fill_untimed(template, which, context, cards, dropped)
        finally:
            self.fill_seconds[which] += time.perf_counter() - start

    def _fill_untimed(
        self,
        template: jinja2.Template,
        which: int,
        context: dict[str, Any],
        cards: Sequence[render.Card],
        dropped: int,
    ) -> str:
        return super()._fill(template, which, context, cards, dropped)


def compiled_renderer() -> TimedRenderer:
    real = Renderer.load()
    return TimedRenderer(real._html, real._text)


class NaiveRenderer(TimedRenderer):
    """Benchmark baseline, not product code: MJML compiled once per email.

    The HTML template holds the MJML *source* (includes spliced in); every HTML fill
    runs Jinja over it and then mjml2html over the result. Everything else (context,
    size budget, plain text) is the real Renderer's.
    """

    @classmethod
    def load_naive(cls) -> NaiveRenderer:
        real = Renderer.load()
        folders = (render.BUILTIN_TEMPLATES,)
        html_path = folders[0] / render.HTML_TEMPLATE
        environment = render._environment(autoescape=True)
        source = render._splice(html_path, folders, environment, 0)
        return cls(environment.from_string(source), real._text)

    def _fill_untimed(
        self,
        template: jinja2.Template,
        which: int,
        context: dict[str, Any],
        cards: Sequence[render.Card],
        dropped: int,
    ) -> str:
        filled = super()._fill_untimed(template, which, context, cards, dropped)
        if which != 0:
            return filled
        start = time.perf_counter()
        try:
            return mjml2html(filled)
        finally:
            self.mjml_seconds += time.perf_counter() - start


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
    renderer.fill_seconds = [0.0, 0.0]
    renderer.mjml_seconds = 0.0
    start = time.perf_counter()
    for edition in editions:
        email: RenderedEmail = renderer.render(edition, FOOTER)
        sizes.append(len(email.html))
        dropped += email.dropped
    seconds = time.perf_counter() - start
    html, text = renderer.fill_seconds
    mjml = renderer.mjml_seconds
    return Timing(len(editions), seconds, html, text, mjml, statistics.fmean(sizes), dropped)


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
    Renderer.load()
    load_seconds = time.perf_counter() - start
    compiled_path, naive_path = compiled_renderer(), NaiveRenderer.load_naive()

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
