"""The dump reader: text copies of Hugging Face paper listings into entries.

A dump is a page header, then papers, each a title line followed by its
abstract. Papers are told by that shape, whatever the header says.
"""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest

from digest.collect.dump import parse_dump
from digest.collect.kinds import detect_kind
from digest.errors import SourceError
from digest.models import Parsed
from tests.golden import assert_golden, parsed_to_json

TODAY = date(2026, 11, 21)
HEADER = ["new", "Get trending papers in your email inbox!", "Subscribe", "Mar 12"]


def abstract(topic: str) -> str:
    """A plausible abstract, long like a real one (well over a title's length)."""
    return (
        f"We study {topic} in large neural networks trained on web-scale data. "
        "Existing approaches either ignore the structure of the problem or scale poorly "
        "with the size of the model, which limits their use in practice. We propose a "
        "simple method that exploits this structure and runs in linear time. Experiments "
        "on six benchmarks show consistent gains over strong baselines at a fraction of "
        "the cost."
    )


def dump(*lines: str, blank: bool = True) -> bytes:
    """A dump of these lines, blank-line separated or with no blank lines at all."""
    return ("\n\n" if blank else "\n").join(lines).encode() + b"\n"


def parse(data: bytes, today: date = TODAY) -> Parsed:
    return parse_dump(data, today=today)


def titles(parsed: Parsed) -> list[str]:
    return [entry.paper.title for entry in parsed.entries]


SEEDS = ["000_ce849831d427977b", "001_0d75d798bf0b3470", "003_664192655427e7a2"]


# The real dumps ----------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_dump_matches_its_golden_file(shared: Path, seed: str) -> None:
    parsed = parse((shared / "seeds" / f"{seed}.txt").read_bytes())
    assert_golden(f"dump_{seed}", parsed_to_json(parsed))


@pytest.mark.parametrize(
    ("seed", "papers", "listed_on"),
    [
        ("000_ce849831d427977b", 48, date(2026, 3, 12)),
        ("001_0d75d798bf0b3470", 72, date(2026, 3, 12)),
        ("003_664192655427e7a2", 129, None),
    ],
)
def test_seed_dump_yields_every_paper_cleanly(
    shared: Path, seed: str, papers: int, listed_on: date | None
) -> None:
    data = (shared / "seeds" / f"{seed}.txt").read_bytes()
    parsed = parse(data)
    assert detect_kind(data) == "dump"
    assert (parsed.kind, parsed.format) == ("dump", "hf-listing-dump")
    assert len(parsed.entries) == papers
    assert parsed.warnings == ()
    assert [entry.position for entry in parsed.entries] == list(range(1, papers + 1))
    assert {entry.listed_on for entry in parsed.entries} == {listed_on}
    for entry in parsed.entries:
        assert 0 < len(entry.paper.title) < 200
        assert len(entry.paper.abstract) > 300


def test_glued_header_is_cut_from_the_first_title_of_a_dump_without_blank_lines(
    shared: Path,
) -> None:
    parsed = parse((shared / "seeds" / "003_664192655427e7a2.txt").read_bytes())
    assert parsed.entries[0].paper.title == (
        "MST-compression: Compressing and Accelerating Binary Neural Networks"
        " with Minimum Spanning Tree"
    )
    assert parsed.entries[0].paper.abstract.startswith("Binary neural networks (BNNs) have")
    assert parsed.entries[1].paper.title == "X-Node: Self-Explanation is All We Need"


def test_seed_titles_like_camel_case_names_stay_whole(shared: Path) -> None:
    parsed = parse((shared / "seeds" / "001_0d75d798bf0b3470.txt").read_bytes())
    assert (
        "DiffDis: Empowering Generative Diffusion Model with Cross-Modal Discrimination Capability"
        in titles(parsed)
    )


def test_code_links_in_seed_abstracts_become_code_urls(shared: Path) -> None:
    parsed = parse((shared / "seeds" / "003_664192655427e7a2.txt").read_bytes())
    with_code = [entry.paper for entry in parsed.entries if entry.paper.code_urls]
    assert len(with_code) > 10
    for paper in with_code:
        for url in paper.code_urls:
            assert url.startswith("https://github.com/")
            owner_and_repo = url.removeprefix("https://github.com/").lower()
            assert owner_and_repo in paper.abstract.lower()


# Layouts -------------------------------------------------------------------------


def test_blank_line_layout_skips_the_header_and_keeps_the_date() -> None:
    parsed = parse(
        dump(*HEADER, "Alpha: A Paper", abstract("alpha"), "Beta: Another", abstract("beta"))
    )
    assert titles(parsed) == ["Alpha: A Paper", "Beta: Another"]
    assert parsed.entries[0].paper.abstract == abstract("alpha")
    assert [entry.position for entry in parsed.entries] == [1, 2]
    assert [entry.listed_on for entry in parsed.entries] == [date(2026, 3, 12)] * 2
    assert parsed.warnings == ()


def test_layout_without_blank_lines_reads_the_same_papers() -> None:
    lines = [*HEADER, "Alpha: A Paper", abstract("alpha"), "Beta: Another", abstract("beta")]
    assert parse(dump(*lines, blank=False)) == parse(dump(*lines))


def test_unknown_header_lines_are_skipped_by_shape() -> None:
    parsed = parse(
        dump(
            "Trending Papers",
            "Daily Papers",
            "Sort by upvotes",
            "Apr 3, 2025",
            "Alpha: A Paper",
            abstract("alpha"),
            "Beta: Another",
            abstract("beta"),
            blank=False,
        )
    )
    assert titles(parsed) == ["Alpha: A Paper", "Beta: Another"]
    assert parsed.entries[0].listed_on == date(2025, 4, 3)
    assert parsed.warnings == ()


def test_a_dump_without_header_starts_with_its_first_paper() -> None:
    parsed = parse(dump("Alpha: A Paper", abstract("alpha")))
    assert titles(parsed) == ["Alpha: A Paper"]
    assert parsed.entries[0].listed_on is None


TRENDING = "Get trending papers in your email inbox!"
MST = "MST-compression: Compressing Binary Networks"


@pytest.mark.parametrize(
    "glued",
    [
        f"Subscribe{MST}",
        f"{TRENDING}Subscribe{MST}",
        f"Get trending papers in your email inbox once a day!{MST}",
        f"newSubscribe{MST}",
    ],
)
def test_header_glued_to_the_first_title_is_cut(glued: str) -> None:
    parsed = parse(dump(TRENDING, glued, abstract("x"), blank=False))
    assert titles(parsed) == [MST]


def test_header_word_glued_to_a_lowercase_name_is_cut() -> None:
    parsed = parse(dump("SubscribenetFound: Foundation Model for Network Security", abstract("x")))
    assert titles(parsed) == ["netFound: Foundation Model for Network Security"]


@pytest.mark.parametrize(
    "title",
    [
        "FinalMLP: An Enhanced Two-Stream MLP Model for CTR Prediction",
        "DiffDis: Empowering Generative Diffusion Model",
        "LiGNN: Graph Neural Networks at LinkedIn",
        "Subscribers and Their Streams: A Study",
        "Newton Meets Transformers",
        "NewsCLIP: Matching News Images",
    ],
)
def test_first_titles_that_start_like_header_words_stay_whole(title: str) -> None:
    parsed = parse(dump("Subscribe", title, abstract("x"), "Beta", abstract("y"), blank=False))
    assert titles(parsed) == [title, "Beta"]


def test_a_glued_header_is_cut_from_the_first_title_only() -> None:
    parsed = parse(dump("Alpha", abstract("a"), "SubscribeNet: Second", abstract("b")))
    assert titles(parsed) == ["Alpha", "SubscribeNet: Second"]


# Abstracts -----------------------------------------------------------------------


def test_abstract_paragraphs_are_joined() -> None:
    first, second = abstract("one"), abstract("two")
    expected = f"{first} {second} Code: https://github.com/org/repo"
    blank_separated = parse(
        dump(*HEADER, "Alpha", first, second, "Code: https://github.com/org/repo", "Beta", first)
    )
    consecutive = parse(
        dump(
            "Alpha", first, second, "Code: https://github.com/org/repo", "Beta", first, blank=False
        )
    )
    for parsed in (blank_separated, consecutive):
        assert titles(parsed) == ["Alpha", "Beta"]
        assert parsed.entries[0].paper.abstract == expected
        assert parsed.entries[0].paper.code_urls == ("https://github.com/org/repo",)
        assert parsed.warnings == ()


def test_a_short_paragraph_ending_a_sentence_stays_in_the_abstract() -> None:
    parsed = parse(dump("Alpha", abstract("a"), "We make three contributions:", abstract("b")))
    assert titles(parsed) == ["Alpha"]
    assert "contributions: We study b" in parsed.entries[0].paper.abstract


def test_a_line_wrapped_mid_sentence_stays_in_the_abstract() -> None:
    text = abstract("a").removesuffix(" the cost.")
    parsed = parse(dump("Alpha", text, "the cost", "Beta", abstract("b"), blank=False))
    assert titles(parsed) == ["Alpha", "Beta"]
    assert parsed.entries[0].paper.abstract == f"{text} the cost"
    assert parsed.warnings == ()


def test_a_short_abstract_that_reads_as_a_sentence_is_kept() -> None:
    short = "We show that a single attention layer suffices for copying, and we prove it formally."
    parsed = parse(dump("Alpha", short, "Beta", abstract("b")))
    assert titles(parsed) == ["Alpha", "Beta"]
    assert parsed.entries[0].paper.abstract == short


def test_code_urls_come_from_the_abstract_in_order_without_repeats() -> None:
    text = (
        f"{abstract('x')} See https://github.com/Org/First.git and GitHub.com/org/second, "
        "also https://github.com/Org/First again; github.com/features/actions is no repo."
    )
    paper = parse(dump("Alpha", text)).entries[0].paper
    assert paper.code_urls == ("https://github.com/Org/First", "https://github.com/org/second")


def test_whitespace_is_folded_and_angle_brackets_stay_text() -> None:
    text = f"{abstract('x')}  With\tn_l <= n and a <b> tag,\u00a0we win."
    paper = parse(dump("Alpha:  A\tPaper", text)).entries[0].paper
    assert paper.title == "Alpha: A Paper"
    assert paper.abstract.endswith(" With n_l <= n and a <b> tag, we win.")
    assert "  " not in paper.abstract


# Robustness ----------------------------------------------------------------------


def test_crlf_line_endings_read_like_lf() -> None:
    data = dump(*HEADER, "Alpha", abstract("a"), "Beta", abstract("b"))
    assert parse(data.replace(b"\n", b"\r\n")) == parse(data)
    assert parse(data.replace(b"\n", b"\r")) == parse(data)


def test_a_utf8_bom_is_dropped() -> None:
    data = dump("Alpha", abstract("a"))
    parsed = parse(b"\xef\xbb\xbf" + data)
    assert parsed == parse(data)
    assert titles(parsed) == ["Alpha"]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_western_single_byte_text_is_decoded_with_a_warning(encoding: str) -> None:
    title = "Régression naïve des modèles à grande échelle"
    text = (
        "Nous étudions la régression des modèles de langage à très grande échelle, où les "
        "coûts élevés rendent les expériences difficiles. " * 3
    ).strip()
    parsed = parse("\n\n".join([*HEADER, title, text]).encode(encoding))
    assert titles(parsed) == [title]
    assert parsed.entries[0].paper.abstract == text
    assert parsed.warnings == ("not UTF-8; decoded as cp1252",)


def test_cp1252_quotes_in_english_text_are_decoded() -> None:
    title = "Café Models for “Smart” Search"
    text = f"{abstract('cafés')} They are “smart” \u2013 and cheap."
    parsed = parse("\n".join([title, text]).encode("cp1252"))
    assert titles(parsed) == [title]
    assert parsed.entries[0].paper.abstract == text
    assert parsed.warnings == ("not UTF-8; decoded as cp1252",)


def test_utf8_with_a_broken_byte_stays_utf8() -> None:
    data = dump("Café “Smart” Models", abstract("cafés “smart”")) + b"Broken \xe9 byte.\n"
    parsed = parse(data)
    assert titles(parsed) == ["Café “Smart” Models"]
    assert parsed.entries[0].paper.abstract.endswith("Broken \ufffd byte.")
    assert parsed.warnings == ("not UTF-8; decoded as utf-8 with 1 invalid byte replaced",)


def test_utf8_with_as_many_stray_bytes_as_letters_stays_utf8() -> None:
    """Two Greek letters and two stray bytes in a long English dump: cp1252 text almost
    never forms a valid UTF-8 sequence, so the file is UTF-8. Read as cp1252, every ε
    became "Îµ", and the paper a second paper beside its correct spelling."""
    title = "DεpS: Delayed ε-Shrinking for Faster Once-For-All Training"
    data = dump(title, abstract("supernets")) + b"Stray \xa0\xa1 bytes.\n"
    parsed = parse(data)
    assert titles(parsed) == [title]
    assert parsed.warnings == ("not UTF-8; decoded as utf-8 with 2 invalid bytes replaced",)


# Accented words and names as a Windows editor saves them in cp1252, with its own characters
# (0x80-0x9F: curly quotes, dashes, the euro sign, Š, Œ, Ž, ™).
ACCENTED = [
    ("Naïve", "Jörg Müller"),
    ("Café", "François Côté"),
    ("Über", "Zoë Brontë"),
    ("Façade", "Søren Ærø"),
    ("Œuvre", "Šárka Žižková"),
    ("Señor", "José Peña"),
]


def seed_text(shared: Path, seed: str) -> str:
    return (shared / "seeds" / f"{seed}.txt").read_text(encoding="utf-8")


def with_accents(text: str, chosen: list[str]) -> str:
    """A dump's text with an accented word before each chosen title, and accented authors
    (with curly quotes, a dash, a euro sign) at the start of its abstract."""
    pending = dict(zip(chosen, itertools.cycle(ACCENTED), strict=False))
    lines = text.split("\n")
    author = ""
    for index, line in enumerate(lines):
        if line in pending:
            word, author = pending.pop(line)
            lines[index] = f"{word} {line}"
        elif author and line:
            lines[index] = f"“{author}” \u2013 5 € ™ report: {line}"
            author = ""
    assert not pending, "every chosen title is a line of its own"
    return "\n".join(lines)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_seed_dump_with_accents_saved_as_cp1252_reads_back_exactly(
    shared: Path, seed: str
) -> None:
    original = seed_text(shared, seed)
    # cp1252 has no Greek: the editor writes "?" for the seeds' few epsilons.
    text = with_accents(original, titles(parse(original.encode()))[1::4]).replace("ε", "?")
    parsed = parse(text.encode("cp1252"))
    assert parsed.entries == parse(text.encode()).entries
    assert parsed.warnings == ("not UTF-8; decoded as cp1252",)
    assert titles(parsed)[1].startswith("Naïve ")
    assert parsed.entries[1].paper.abstract.startswith("“Jörg Müller” \u2013 5 € ™ report: ")


@pytest.mark.parametrize(
    "phrase",
    ["Naïve", "Jörg Müller", "“ÀÉÎÔ”", "Avaliação das representações", "Œuvres de Slavoj Žižek"],
)
def test_accents_in_an_english_dump_are_cp1252_whatever_charset_normalizer_guesses(
    shared: Path, phrase: str
) -> None:
    # Before, "Jörg Müller" came out as gb18030 ("J鰎g M黮ler") and "Naïve" as big5 ("Na鴳e").
    original = seed_text(shared, "003_664192655427e7a2")
    text = original.replace("Binary neural networks (BNNs) have", f"{phrase}: Binary networks", 1)
    parsed = parse(text.encode("cp1252"))
    assert parsed.entries[0].paper.abstract.startswith(f"{phrase}: Binary networks")
    assert parsed.entries == parse(text.encode()).entries
    assert parsed.warnings == ("not UTF-8; decoded as cp1252",)


def test_the_five_bytes_cp1252_leaves_undefined_read_as_latin1() -> None:
    data = dump("Alpha", abstract("a")).replace(
        b"the cost.", b"the \x93cost\x94 \x81\x8d\x8f\x90\x9d."
    )
    parsed = parse(data)
    assert parsed.entries[0].paper.abstract.endswith("the “cost” \x81\x8d\x8f\x90\x9d.")
    assert parsed.warnings == ("not UTF-8; decoded as cp1252",)


JAPANESE = (
    "大規模言語モデルによる論文推薦",
    "本論文では、大規模言語モデルを用いた新しい手法を提案する。実験により、提案手法が"
    "従来手法よりも高い精度を達成することを示す。" * 5,
)
CHINESE = (
    "基于大规模语言模型的论文推荐",
    "本文提出了一种基于大规模语言模型的新方法。实验结果表明\uff0c所提出的方法在多个基准数据集上"
    "取得了显著的性能提升。" * 8,
)
# Cyrillic letters look like Latin ones, which is what ruff's RUF001 warns of.
RUSSIAN = (
    "Рекомендация статей с большими языковыми моделями",  # noqa: RUF001
    "В этой работе мы предлагаем новый метод обучения "  # noqa: RUF001
    "больших языковых моделей и показываем его "  # noqa: RUF001
    "эффективность на шести наборах данных. " * 3,
)
NON_LATIN = [
    ("shift_jis", *JAPANESE),
    ("euc_jp", *JAPANESE),
    ("gb18030", *CHINESE),
    ("cp1251", *RUSSIAN),
    ("koi8_r", *RUSSIAN),
]


@pytest.mark.parametrize(("encoding", "title", "text"), NON_LATIN)
def test_a_dump_in_an_east_asian_or_cyrillic_code_page_keeps_that_encoding(
    encoding: str, title: str, text: str
) -> None:
    lines = [*HEADER, title, text, "Beta: An English Paper", abstract("beta")]
    parsed = parse(dump(*lines).decode().encode(encoding))
    assert parsed.entries == parse(dump(*lines)).entries
    assert titles(parsed) == [title, "Beta: An English Paper"]
    assert len(parsed.warnings) == 1
    assert parsed.warnings[0].startswith("not UTF-8; decoded as ")
    assert not parsed.warnings[0].endswith("cp1252")


@pytest.mark.parametrize(("encoding", "title", "text"), NON_LATIN)
def test_one_east_asian_or_cyrillic_paper_in_an_english_seed_dump_is_read_right(
    shared: Path, encoding: str, title: str, text: str
) -> None:
    original = seed_text(shared, "003_664192655427e7a2")
    second = "X-Node: Self-Explanation is All We Need\n"
    mixed = original.replace(second, f"{title}\n{text.strip()}\n{second}", 1)
    parsed = parse(mixed.encode(encoding))
    assert parsed.entries == parse(mixed.encode()).entries
    assert titles(parsed)[1] == title


def test_a_utf16_dump_cut_off_mid_character_keeps_its_papers_with_a_warning(
    shared: Path,
) -> None:
    text = seed_text(shared, "000_ce849831d427977b")
    parsed = parse(text.encode("utf-16")[:-1])
    assert titles(parsed) == titles(parse(text.encode()))
    assert parsed.warnings == ("decoded as utf-16 with 1 invalid character replaced",)


def test_a_trailing_title_without_abstract_is_skipped_with_a_warning() -> None:
    parsed = parse(dump("Alpha", abstract("a"), "Beta", abstract("b"), "Gamma: Cut Off"))
    assert titles(parsed) == ["Alpha", "Beta"]
    assert parsed.entries[1].paper.abstract == abstract("b")
    assert parsed.warnings == ("line 9: skipped 'Gamma: Cut Off' (no abstract follows)",)


def test_stray_short_lines_between_papers_are_skipped_with_a_warning() -> None:
    parsed = parse(dump("Alpha", abstract("a"), "Upvote", "42", "Beta", abstract("b"), blank=False))
    assert titles(parsed) == ["Alpha", "Beta"]
    assert parsed.entries[0].paper.abstract == abstract("a")
    assert [entry.position for entry in parsed.entries] == [1, 2]
    assert parsed.warnings == (
        "line 3: skipped stray line 'Upvote' between papers",
        "line 4: skipped stray line '42' between papers",
    )


def test_prose_without_a_title_is_skipped_with_a_warning() -> None:
    parsed = parse(dump(abstract("orphan"), "Alpha", abstract("a"), blank=False))
    assert titles(parsed) == ["Alpha"]
    assert parsed.warnings == (
        "line 1: skipped text with no title before it: 'We study orphan in large neural "
        "networks trained on web-scale data. Existing...'",
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n\n  \n",
        dump(*HEADER),
        dump(*HEADER, "Alpha: A Title", "Beta: Another Title"),
        dump(abstract("a"), abstract("b")),
    ],
    ids=["empty", "blank", "header-only", "titles-only", "prose-only"],
)
def test_a_dump_without_papers_is_a_source_error(data: bytes) -> None:
    with pytest.raises(SourceError, match="no papers found"):
        parse(data)


# Listing date --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "today", "listed_on"),
    [
        ("Mar 12", date(2026, 11, 21), date(2026, 3, 12)),
        ("March 12", date(2026, 11, 21), date(2026, 3, 12)),
        ("Mar 12, 2024", date(2026, 11, 21), date(2024, 3, 12)),
        ("Nov 21", date(2026, 11, 21), date(2026, 11, 21)),
        ("Nov 22", date(2026, 11, 21), date(2025, 11, 22)),
        ("Dec 30", date(2026, 1, 5), date(2025, 12, 30)),
        ("Feb 29", date(2026, 11, 21), date(2024, 2, 29)),
        ("Daily Papers - Sep 5", date(2026, 11, 21), date(2026, 9, 5)),
        ("2025-04-03", date(2026, 11, 21), date(2025, 4, 3)),
        ("Subscribe", date(2026, 11, 21), None),
    ],
)
def test_listing_date_comes_from_the_header(
    header: str, today: date, listed_on: date | None
) -> None:
    parsed = parse(dump("new", header, "Alpha", abstract("a")), today=today)
    assert parsed.entries[0].listed_on == listed_on


def test_a_date_line_between_papers_is_not_a_title() -> None:
    parsed = parse(dump("Alpha", abstract("a"), "Mar 13", abstract("b"), "Beta", abstract("c")))
    assert titles(parsed) == ["Alpha", "Beta"]
    assert parsed.entries[0].paper.abstract == abstract("a")
    assert parsed.warnings == (
        "line 5: skipped stray line 'Mar 13' between papers",
        "line 7: skipped text with no title before it: 'We study b in large neural networks "
        "trained on web-scale data. Existing appro...'",
    )


# Scale ---------------------------------------------------------------------------


def test_a_large_dump_without_blank_lines_keeps_every_paper() -> None:
    papers = 20_000
    lines = [*HEADER]
    for number in range(papers):
        lines += [f"Paper {number}: A Study", f"{abstract(str(number))} github.com/o/r{number}"]
    data = dump(*lines, blank=False)
    parsed = parse(data)
    assert len(parsed.entries) == papers
    assert parsed.entries[-1].position == papers
    assert parsed.entries[-1].paper.code_urls == (f"https://github.com/o/r{papers - 1}",)


def test_a_title_case_title_ending_in_a_period_is_still_a_title() -> None:
    parsed = parse(
        dump("Rewrite the Stars.", abstract("stars"), "In Praise of Idleness", abstract("idle"))
    )
    assert [entry.paper.title for entry in parsed.entries] == [
        "Rewrite the Stars.",
        "In Praise of Idleness",
    ]
