"""Identity: the same paper from any source meets itself under one canonical id."""

from __future__ import annotations

import hashlib

import pytest

from digest.identity import (
    arxiv_id_from_page_url,
    canonical_id,
    identity_keys,
    normalize_doi,
    normalize_title,
    parse_arxiv_id,
    title_key,
)
from digest.models import Paper


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2508.13167", ("2508.13167", None)),
        ("2508.13167v2", ("2508.13167", 2)),
        ("oai:arXiv.org:2508.13167v1", ("2508.13167", 1)),
        ("http://arxiv.org/abs/1801.05533v1", ("1801.05533", 1)),
        ("https://arxiv.org/pdf/2604.26951v3", ("2604.26951", 3)),
        ("http://arxiv.org/abs/math/0502287v1", ("math/0502287", 1)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("arXiv:2508.13167v1 Announce Type: new", ("2508.13167", 1)),
        ("0704.0001", ("0704.0001", None)),
    ],
)
def test_arxiv_ids_are_read_without_their_version(
    text: str, expected: tuple[str, int | None]
) -> None:
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text", ["", "12.5", "Version 2024.12345 of the model", "https://example.org/2508.13167x"]
)
def test_numbers_that_nobody_marked_as_arxiv_ids_are_not_ids(text: str) -> None:
    assert parse_arxiv_id(text) is None


def test_paper_pages_keyed_by_arxiv_id_give_the_id() -> None:
    assert arxiv_id_from_page_url("https://tldr.takara.ai/p/2604.26238") == ("2604.26238", None)
    assert arxiv_id_from_page_url("https://huggingface.co/papers/2606.00467") == (
        "2606.00467",
        None,
    )
    assert arxiv_id_from_page_url("https://example.org/blog/post") is None


def test_dois_are_normalized() -> None:
    assert normalize_doi("https://doi.org/10.1103/PhysRevD.76.013009") == (
        "10.1103/physrevd.76.013009"
    )
    assert normalize_doi("doi:10.48550/arXiv.2508.13167.") == "10.48550/arxiv.2508.13167"
    assert normalize_doi("no doi here") is None


def test_titles_compare_across_case_punctuation_spacing_latex_and_unicode() -> None:
    variants = [
        "Graph Neural Networks: A Review",
        "graph  neural networks -- a review",
        "Graph Neural Networks:\nA Review.",
        "Graph Neural Networks: A Review",  # full-width/compatibility forms
        "Graph Neural Networks: \\emph{A} Review",
    ]
    assert {normalize_title(title) for title in variants} == {"graph neural networks a review"}
    assert normalize_title("Jörg's $\\mathcal{O}(n)$ Method") == normalize_title(
        "Jorg's O(n) method"
    )


def test_canonical_id_prefers_arxiv_then_doi_then_title() -> None:
    title_only = Paper(title="A Study")
    with_doi = Paper(title="A Study", doi="10.1/x")
    with_arxiv = Paper(title="A Study", doi="10.1/x", arxiv_id="2401.00001")
    assert canonical_id(title_only).startswith("title:")
    assert canonical_id(with_doi) == "doi:10.1/x"
    assert canonical_id(with_arxiv) == "arxiv:2401.00001"
    assert identity_keys(with_arxiv) == ("arxiv:2401.00001", "doi:10.1/x", canonical_id(title_only))


def test_the_title_key_is_stable_across_runs() -> None:
    # Stored in databases: changing it would split every title-only paper in two.
    expected = hashlib.blake2b(b"rewritethestars", digest_size=8).hexdigest()
    assert canonical_id(Paper(title="Rewrite the Stars!")) == f"title:{expected}"


def test_a_paper_without_any_identity_is_refused() -> None:
    with pytest.raises(ValueError, match="no identity"):
        canonical_id(Paper(title=" -- "))


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Rewrite the Stars", "Rewrite the Stars."),
        ("MST-compression: Compressing BNNs", "MST-compression - Compressing BNNs"),
        ("MST-compression: Compressing BNNs", "MST-compression \u2014 Compressing BNNs"),
        ("Self-Supervised Pre-training for Graphs", "Self-supervised pretraining for graphs"),
        ("Forecasting Using Graph-LSTMs", "Forecasting using Graph LSTMs"),
        ("Caf\u00e9 Models", "Cafe\u0301 Models"),
    ],
)
def test_near_identical_titles_of_one_paper_share_a_key(one: str, other: str) -> None:
    assert title_key(one) == title_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (
            "Graph Neural Networks for Link Prediction in Social Networks",
            "Graph Neural Networks for Link Prediction in Knowledge Graphs",
        ),
        ("Scaling Laws for Neural Language Models", "Scaling Laws for Neural Machine Translation"),
        ("A Survey on Diffusion Models", "A Survey of Diffusion Models"),
    ],
)
def test_different_papers_sharing_a_long_prefix_keep_their_own_keys(one: str, other: str) -> None:
    assert title_key(one) != title_key(other)
