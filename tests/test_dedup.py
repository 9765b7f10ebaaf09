"""Deduplication: the same paper seen in many places is one record with every sighting."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.collect.locate import SourceSpec
from digest.config import CollectSettings
from digest.dedup import merge_papers
from digest.models import Paper
from digest.pipeline.collect import collect
from digest.state.store import Store

NOW = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as opened:
        yield opened  # type: ignore[misc]


def collect_files(store: Store, *paths: Path) -> None:
    specs = [SourceSpec(name=path.name, location=str(path)) for path in paths]
    report = collect(specs, store, settings=CollectSettings(), now=NOW)
    assert not report.failed, [source.errors for source in report.sources]


def test_the_seed_dumps_hold_249_listings_of_204_papers(store: Store, shared: Path) -> None:
    collect_files(store, *sorted((shared / "seeds").glob("*.txt")))
    assert (store.papers.count(), store.papers.sighting_count()) == (204, 249)


def test_seeds_and_feeds_together_lose_no_listing(store: Store, shared: Path) -> None:
    files = [*sorted((shared / "seeds").glob("*.txt")), *sorted((shared / "feeds").glob("*.*"))]
    collect_files(store, *[path for path in files if path.suffix != ".md"])
    # 249 dump listings + 218 feed entries; every listing kept as a sighting.
    assert store.papers.sighting_count() == 249 + 218
    assert store.papers.count() == 204 + 214  # the feeds repeat 4 of their own papers


ABSTRACT = (
    "We study a problem at length and propose a method that works well in practice, "
    "with experiments on several benchmarks showing clear gains over strong baselines."
)


def write_sources(folder: Path) -> list[Path]:
    """One paper, four ways: a dump (title only), an arXiv feed (v2), the HF API, and RSS."""
    dump = folder / "dump.txt"
    dump.write_text(
        "Mar 12\n\nSelf-Supervised Pre-training for Graphs: A Study.\n\n" + ABSTRACT + "\n",
        encoding="utf-8",
    )
    atom = folder / "arxiv.xml"
    atom.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">
  <id>http://arxiv.org/api/abc</id>
  <entry>
    <id>http://arxiv.org/abs/2603.01234v2</id>
    <title>Self-supervised Pretraining for Graphs -- a Study</title>
    <summary>{ABSTRACT} Code: https://github.com/example/graph-pretrain.</summary>
    <published>2026-03-10T12:00:00Z</published>
    <author><name>Ada Lovelace</name></author>
    <author><name>Alan Turing</name></author>
    <arxiv:doi>10.1234/graphs.2026</arxiv:doi>
    <arxiv:primary_category term="cs.LG"/>
    <category term="cs.LG"/>
  </entry>
</feed>
""",
        encoding="utf-8",
    )
    api = folder / "hf.json"
    api.write_text(
        json.dumps(
            [
                {
                    "paper": {
                        "id": "2603.01234",
                        "title": "Self-Supervised Pre-Training for Graphs: A Study",
                        "summary": ABSTRACT,
                        "authors": [{"name": "Ada Lovelace"}],
                        "upvotes": 118,
                        "publishedAt": "2026-03-11T00:00:00.000Z",
                        "submittedOnDailyAt": "2026-03-12T00:00:00.000Z",
                    }
                }
            ]
        ),
        encoding="utf-8",
    )
    return [dump, atom, api]


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 0, 2)], ids=str)
def test_one_paper_from_a_dump_a_feed_and_the_api_is_one_record(
    store: Store, tmp_path: Path, order: tuple[int, ...]
) -> None:
    paths = write_sources(tmp_path)
    collect_files(store, *[paths[index] for index in order])
    papers = store.papers.by_canonical_id()
    assert list(papers) == ["arxiv:2603.01234"]
    paper = papers["arxiv:2603.01234"]
    assert paper.arxiv_version == 2
    assert paper.doi == "10.1234/graphs.2026"
    assert paper.authors == ("Ada Lovelace", "Alan Turing")
    assert paper.abstract.endswith("github.com/example/graph-pretrain.")
    assert paper.code_urls == ("https://github.com/example/graph-pretrain",)
    assert paper.title == "Self-supervised Pretraining for Graphs -- a Study"
    sightings = store.papers.sightings_of("arxiv:2603.01234")
    assert sorted(Path(sighting.location).name for sighting in sightings) == [
        "arxiv.xml",
        "dump.txt",
        "hf.json",
    ]
    assert max(sighting.upvotes or 0 for sighting in sightings) == 118


def test_collecting_the_same_sources_again_changes_nothing(store: Store, tmp_path: Path) -> None:
    paths = write_sources(tmp_path)
    collect_files(store, *paths)
    before = (store.papers.by_canonical_id(), store.papers.sighting_count())
    collect_files(store, *paths)
    assert (store.papers.by_canonical_id(), store.papers.sighting_count()) == before


def test_merging_keeps_the_richest_field_of_each_record() -> None:
    listed = Paper(title="A Study", abstract="Short.", code_urls=("https://github.com/a/b",))
    from_arxiv = Paper(
        title="A Study of Things",
        abstract="A much longer abstract, from arXiv.",
        authors=("Ada Lovelace",),
        arxiv_id="2603.01234",
        arxiv_version=1,
        categories=("cs.LG",),
        published=datetime(2026, 3, 10, tzinfo=UTC),
    )
    revised = Paper(
        title="A Study of Things, Revised",
        arxiv_id="2603.01234",
        arxiv_version=3,
        categories=("cs.LG", "stat.ML"),
        published=datetime(2026, 3, 12, tzinfo=UTC),
        code_urls=("https://github.com/c/d",),
    )
    merged = merge_papers(merge_papers(listed, from_arxiv), revised)
    assert merged == Paper(
        title="A Study of Things, Revised",  # the latest arXiv version names the paper
        abstract="A much longer abstract, from arXiv.",
        authors=("Ada Lovelace",),
        arxiv_id="2603.01234",
        arxiv_version=3,
        categories=("cs.LG", "stat.ML"),
        published=datetime(2026, 3, 10, tzinfo=UTC),
        code_urls=("https://github.com/a/b", "https://github.com/c/d"),
    )


def test_old_style_arxiv_ids_merge_across_versions(store: Store) -> None:
    from digest.models import Sighting

    def seen(location: str) -> Sighting:
        return Sighting(source=location, location=location, position=1, listed_on=None, seen_at=NOW)

    v1 = Paper(title="Einstein manifolds", arxiv_id="math/0502287", arxiv_version=1)
    v2 = Paper(title="Einstein Manifolds (revised)", arxiv_id="math/0502287", arxiv_version=2)
    store.papers.save([(v1, seen("a"))], now=NOW)
    store.papers.save([(v2, seen("b"))], now=NOW)
    assert list(store.papers.by_canonical_id()) == ["arxiv:math/0502287"]
    assert store.papers.by_canonical_id()["arxiv:math/0502287"].arxiv_version == 2
