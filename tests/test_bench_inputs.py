"""The synthetic inputs bench.rank_bench draws: they must exist for any pool size."""

from __future__ import annotations

import random

from bench.rank_bench import interest_phrases
from digest.models import Paper


def test_interest_phrases_are_every_span_when_titles_hold_fewer_than_asked() -> None:
    papers = [Paper(title="Graph Neural Networks"), Paper(title="Diffusion Models")]

    phrases = interest_phrases(papers, random.Random(1), count=3000)

    assert phrases == [
        "diffusion models",
        "graph neural",
        "graph neural networks",
        "neural networks",
    ]


def test_interest_phrases_draw_the_count_asked_from_real_title_spans() -> None:
    titles = [f"Paper {n} on learning sparse graph models at scale" for n in range(50)]
    papers = [Paper(title=title) for title in titles]

    phrases = interest_phrases(papers, random.Random(1), count=40)

    assert len(phrases) == 40
    assert all(any(phrase in title.lower() for title in titles) for phrase in phrases)
