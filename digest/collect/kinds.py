"""Readers, one per kind of source, each turning raw bytes into `Parsed` entries.

The kind is told by the content, never the file name: JSON is the Hugging Face
daily papers API, markup is a feed, and prose is a dump of a paper listing.
"""

from __future__ import annotations

from datetime import date

from digest.collect.dump import parse_dump
from digest.collect.feed import parse_feed
from digest.collect.hf_api import parse_hf_api
from digest.collect.storable import storable
from digest.errors import SourceError
from digest.models import SOURCE_KINDS, Parsed
from digest.text import UTF8_BOM


def detect_kind(data: bytes) -> str:
    """ "dump", "feed" or "hf-api", from the first bytes of a document."""
    head = data[:4096].removeprefix(UTF8_BOM).lstrip()
    if not head:
        raise SourceError("empty document")
    if head[:1] in (b"[", b"{"):
        return "hf-api"
    if head[:1] == b"<" or head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "feed"
    if _looks_binary(head):
        raise SourceError("binary data, not a dump, feed or JSON document")
    return "dump"


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    control = sum(1 for byte in head if byte < 32 and byte not in b"\t\n\r\f")
    return control > len(head) // 100


def parse_document(data: bytes, *, kind: str = "auto", today: date) -> Parsed:
    """Read one document as `kind` ("auto" detects it), every entry fit to store.

    Raises SourceError when unreadable.
    """
    return storable(_read_as(data, kind, today))


def _read_as(data: bytes, kind: str, today: date) -> Parsed:
    if kind == "auto":
        kind = detect_kind(data)
    if kind == "dump":
        return parse_dump(data, today=today)
    if kind == "feed":
        return parse_feed(data)
    if kind == "hf-api":
        return parse_hf_api(data)
    raise SourceError(f"unknown source kind {kind!r} (one of: auto, {', '.join(SOURCE_KINDS)})")
