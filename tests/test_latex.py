"""LaTeX habits in titles and abstracts: quotes, dashes, ties, references and links.

Abstracts are mostly plain text written by people used to LaTeX, so these rules apply
with or without other markup, but only where the characters cannot mean something else.
"""

# ruff: noqa: RUF001  (typographic quotes and dashes are the expected output)

from __future__ import annotations

import time

import pytest

from digest.mail import display
from digest.mail.latex import latex_to_unicode

# --- quotes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("so-called ``quotes'' here", "so-called “quotes” here"),
        ("the `single' option", "the ‘single’ option"),
        ("``a `nested' quote''", "“a ‘nested’ quote”"),
        ("`don't' panic", "‘don't’ panic"),
        ("``quotes'' in \\emph{markup}", "“quotes” in markup"),
    ],
)
def test_paired_latex_quotes_become_curly(source: str, shown: str) -> None:
    assert latex_to_unicode(source) == shown


@pytest.mark.parametrize(
    "source",
    [
        "run `make test` first",  # Markdown code
        "a ```block``` of code",
        "an unpaired `` mark",
        "a 5'' screen and it's fine",
        "`` spaced '' quotes",  # the marks must hug the quoted text
    ],
)
def test_other_backticks_and_apostrophes_stay(source: str) -> None:
    assert latex_to_unicode(source) == source


# --- dashes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("pages 10--20", "pages 10–20"),
        ("the Erdős--Rényi model", "the Erdős–Rényi model"),
        ("a word---another word", "a word—another word"),
        ("fast -- and simple", "fast – and simple"),
        ("fast --- and simple", "fast — and simple"),
    ],
)
def test_double_and_triple_hyphens_between_words_are_dashes(source: str, shown: str) -> None:
    assert latex_to_unicode(source) == shown


@pytest.mark.parametrize(
    "source",
    [
        "pass --flag to the tool",  # a flag at a word start
        "tool --flag",
        "x --flag --other",
        "<!-- a comment -->",  # HTML in an abstract is shown as text
        "a --> b and a <-- b",
        "a ---- ruler",  # ASCII art
        "a----b",
        "trailing --",
        "-- leading",
        "a single-hyphen word",
    ],
)
def test_hyphens_that_are_not_dashes_stay(source: str) -> None:
    assert latex_to_unicode(source) == source


# --- ties ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("see Fig.~3", "see Fig. 3"),
        ("in Section~2", "in Section 2"),
        ("a 10~nm gap", "a 10 nm gap"),
        ("of~$n$ nodes", "of n nodes"),
        ("$n$~nodes", "n nodes"),
        ("Fig.~\\ref{f} shows", "Fig. shows"),
    ],
)
def test_a_tie_between_words_is_a_space(source: str, shown: str) -> None:
    assert latex_to_unicode(source) == shown


@pytest.mark.parametrize(
    "source",
    [
        "https://example.org/~ada/x",
        "code at https://example.org/~ada/x--y.tar.gz, see Fig.",
        "x~N(0,1) samples",  # "distributed as"
        "about ~5% of them",  # "approximately"
        "files in ~/data",
        "a ~ b",
    ],
)
def test_other_tildes_stay(source: str) -> None:
    assert latex_to_unicode(source) == source


def test_an_accent_tilde_is_still_an_accent() -> None:
    assert latex_to_unicode(r"Espa\~na") == "España"


# --- references, footnotes and links ------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (r"as shown \cite{foo}.", "as shown."),
        (r"as shown \citep{a,b}, and \citet{c} agrees", "as shown, and agrees"),
        (r"as shown~\cite[p.~3]{foo}; yes", "as shown; yes"),
        (r"in Eq.~\eqref{eq:1} and Table \ref{t}", "in Eq. and Table"),
        (r"Results\label{sec:results} follow", "Results follow"),
        (r"(see \cite{a})", "(see)"),
    ],
)
def test_citations_references_and_labels_are_dropped(source: str, shown: str) -> None:
    assert latex_to_unicode(source) == shown


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (r"a claim\footnote{with a note}.", "a claim (with a note)."),
        (r"a claim \footnote{see \emph{this}} holds", "a claim (see this) holds"),
        (r"a claim\footnote{}.", "a claim."),
    ],
)
def test_a_footnote_is_shown_in_parentheses(source: str, shown: str) -> None:
    assert latex_to_unicode(source) == shown


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (r"see \href{https://x.org}{our code}", "see our code (https://x.org)"),
        (r"see \href{https://x.org/a_b}{the \textbf{code}}.", "see the code (https://x.org/a_b)."),
        (r"see \href {https://x.org} {https://x.org}", "see https://x.org"),
        (r"mail \href{mailto:ada@x.org}{Ada}", "mail Ada"),
        (r"at \url{https://example.org/~ada/x--y}", "at https://example.org/~ada/x--y"),
        (r"at \url{https://x.org/100\%}", "at https://x.org/100%"),
    ],
)
def test_links_keep_their_text_and_show_a_web_address(source: str, shown: str) -> None:
    assert latex_to_unicode(source) == shown


def test_the_junk_from_the_issue_is_gone() -> None:
    abstract = r"We release \href{https://x.org}{our code} \citep{foo}."
    assert display.clean(abstract) == "We release our code (https://x.org)."


@pytest.mark.parametrize(
    "source",
    [
        r"a \footnote{never closed",
        r"}}{{ \href{a}{",
        r"\cite",
        r"\href{https://x.org}",
        "{" * 50 + r"\footnote{x" + "}" * 3,
    ],
)
def test_unbalanced_braces_neither_crash_nor_leak_braces(source: str) -> None:
    assert "{" not in latex_to_unicode(source)


@pytest.mark.parametrize(
    "source",
    [
        "\\footnote{" * 20_000 + "x" + "}" * 20_000,
        "{" * 100_000,
        "\\href{" * 20_000,
        "``" * 50_000,
        "`a" * 50_000,
        "a -" * 50_000,
        "a~" * 50_000,
        " " * 100_000 + r"\cite{x}",
    ],
)
def test_hostile_input_takes_linear_time(source: str) -> None:
    started = time.perf_counter()
    latex_to_unicode(source)
    assert time.perf_counter() - started < 2
