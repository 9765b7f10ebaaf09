"""Text helpers: clean_text turns markup into plain text, in linear time whatever it is given."""

from __future__ import annotations

import codecs
import html
import random
import re
import time

import pytest

from digest.text import clean_text, fold_whitespace, unicode_bom_encoding

# clean_text before it was made linear, quadratic on unclosed comments and scripts: the
# reference its output must still match on well-formed markup.
_QUADRATIC_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>", re.DOTALL)
_QUADRATIC_SCRIPT_OR_STYLE = re.compile(
    r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)


def quadratic_clean_text(markup: str) -> str:
    if "<" in markup:
        markup = _QUADRATIC_TAG.sub(" ", _QUADRATIC_SCRIPT_OR_STYLE.sub(" ", markup))
    if "&" in markup:
        markup = html.unescape(markup)
    return fold_whitespace(markup)


# Pieces of well-formed markup: text (with comparisons and entities that are no tags), tags,
# and comments, scripts and styles that all end. No two pieces of text form "<!--".
TEXT = ["alpha", " beta ", "n_l <= n", "a < b", "x > y", "5<6", "&amp;", "&lt;b&gt;", "\n\t"]
TEXT += ["</", "<>", "< a>", "é", "&#x263A;", "<<", ">>"]
NEAR_MISSES = ["-->", "<! a", "<!- b", "- -", "<!DOCTYPE html>"]
TAGS = ["<b>", "</b>", "<a href='x'>", "</a>", "<br/>", '<p class="c">', "<svg:rect x=1 />"]
TAGS += ["</P >", "<h1\n>", "<img src='a>b'>", "<span\tid=s>"]
SCRIPT_OPENERS = ["<script>", "<SCRIPT type='text/javascript'>", "<style>", "<Style media=x>"]


def well_formed_markup(rng: random.Random) -> str:
    pieces: list[str] = []
    for _ in range(rng.randint(0, 12)):
        kind = rng.random()
        if kind < 0.5:
            pieces.append(rng.choice(TEXT + NEAR_MISSES))
        elif kind < 0.75:
            pieces.append(rng.choice(TAGS))
        elif kind < 0.88:
            pieces.append("<!--" + "".join(rng.choices(TEXT + TAGS, k=rng.randint(0, 4))) + "-->")
        else:
            opener = rng.choice(SCRIPT_OPENERS)
            name = opener[1:].split(">")[0].split()[0]
            code = rng.choices([*TEXT, *NEAR_MISSES, *TAGS, "<!--", "if (a<b) {}"], k=4)
            closer = rng.choice([f"</{name}>", f"</{name.lower()}  >", f"</{name.upper()}>"])
            pieces.append(opener + "".join(code).replace("</", "< /") + closer)
    return "".join(pieces)


def test_well_formed_markup_is_cleaned_exactly_as_before() -> None:
    rng = random.Random(20260301)
    for _ in range(5000):
        markup = well_formed_markup(rng)
        assert clean_text(markup) == quadratic_clean_text(markup), markup


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>Graph &amp; <b>trees</b></p>", "Graph & trees"),
        ("a <script>var x = '<b>';</script> b <style>p {}</style> c", "a b c"),
        ("a <!-- a comment with <b>tags</b> --> b", "a b"),
        ("n_l <= n and a < b, x > y", "n_l <= n and a < b, x > y"),
        ("&lt;b&gt; stays text", "<b> stays text"),
    ],
)
def test_tags_scripts_and_comments_go_and_text_stays(markup: str, text: str) -> None:
    assert clean_text(markup) == text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("Intro. <!-- hidden <b>bold</b>", "Intro."),
        ("Intro. <script>alert('<b>');", "Intro."),
        ("Intro. <style>p { color: red }", "Intro."),
        ("Intro. <script src='x.js'", "Intro."),
        ("Intro. <!-- closed --> kept <!-- unclosed", "Intro. kept"),
    ],
)
def test_an_unclosed_comment_script_or_style_hides_the_rest_as_in_a_browser(
    markup: str, text: str
) -> None:
    assert clean_text(markup) == text


HOSTILE = ["<!--", "<script>", "<a ", "<script ", "<style>", "</script ", "<a href='", "&amp;"]


@pytest.mark.parametrize("unit", HOSTILE)
def test_200_kb_of_repeated_unclosed_openers_is_cleaned_in_linear_time(unit: str) -> None:
    # Before: 200 KB of "<!--" took 120 s and of "<script>" 47 s; now some milliseconds.
    markup = unit * (200_000 // len(unit))
    start = time.perf_counter()
    clean_text(markup)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (codecs.BOM_UTF16_LE + "a".encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + "a".encode("utf-16-be"), "utf-16"),
        ("a".encode("utf-32"), "utf-32"),
        (codecs.BOM_UTF32_BE + "a".encode("utf-32-be"), "utf-32"),
        (codecs.BOM_UTF8 + b"a", None),
        (b"\xff", None),
        (b"", None),
    ],
)
def test_a_byte_order_mark_names_utf16_or_utf32(data: bytes, encoding: str | None) -> None:
    assert unicode_bom_encoding(data) == encoding
    if encoding is not None:
        assert data.decode(encoding) == "a"
