"""Merging the records of one paper seen in several places into the richest one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from digest.models import Paper

_T = TypeVar("_T")


def _first(*values: _T | None) -> _T | None:
    return next((value for value in values if value is not None), None)


def _union(*groups: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for group in groups for item in group))


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def _title_authority(paper: Paper) -> tuple[bool, int]:
    return paper.arxiv_id is not None, paper.arxiv_version or 0


def merge_papers(kept: Paper, other: Paper) -> Paper:
    """One record from two records of the same paper, keeping the richest of each field.

    The title comes from the record closest to arXiv, the origin of the paper: one that
    knows the arXiv id beats one that does not, a later version beats an earlier one,
    and `kept` wins ties (listings and aggregators retype titles). Text fields keep the
    longest, lists the longest or their union, dates the earliest.
    """
    title = kept.title
    if not title or (other.title and _title_authority(other) > _title_authority(kept)):
        title = other.title
    return replace(
        kept,
        title=title,
        abstract=max(kept.abstract, other.abstract, key=len),
        authors=max(kept.authors, other.authors, key=len),
        arxiv_id=_first(kept.arxiv_id, other.arxiv_id),
        arxiv_version=max(kept.arxiv_version or 0, other.arxiv_version or 0) or None,
        doi=_first(kept.doi, other.doi),
        categories=_union(kept.categories, other.categories),
        published=_earliest(kept.published, other.published),
        url=_first(kept.url, other.url),
        pdf_url=_first(kept.pdf_url, other.pdf_url),
        code_urls=_union(kept.code_urls, other.code_urls),
    )
