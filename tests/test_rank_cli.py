"""`digest rank` end to end: the papers of the day, in order, with reasons."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from digest.state.store import Store
from digest.state.votes import MORE
from tests.test_collect_cli import digest
from tests.test_setup_cli import check_with

GNN = "graph neural networks, link prediction"


def rank_json(*args: str, cwd: Path) -> dict[str, Any]:
    result = digest("rank", "--json", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    picks: dict[str, Any] = json.loads(result.stdout)
    return picks


def test_ranking_sources_needs_no_config_and_leaves_no_database(
    tmp_path: Path, shared: Path
) -> None:
    picks = rank_json(str(shared / "seeds"), "--interests", GNN, cwd=tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert picks["subscriber"] == "graph neural networks, link prediction"
    assert len(picks["papers"]) == 10
    top = picks["papers"][0]
    assert set(top) == {"id", "title", "score", "reasons", "url"}
    assert any(reason.startswith("matches: ") for reason in top["reasons"])
    scores = [paper["score"] for paper in picks["papers"]]
    assert scores == sorted(scores, reverse=True)


def test_the_same_input_always_gives_the_same_output(tmp_path: Path, shared: Path) -> None:
    first = digest("rank", str(shared / "seeds"), "--interests", GNN, "--json", cwd=tmp_path)
    second = digest("rank", str(shared / "seeds"), "--interests", GNN, "--json", cwd=tmp_path)
    assert first.stdout == second.stdout


def test_limit_caps_the_picks(tmp_path: Path, shared: Path) -> None:
    picks = rank_json(str(shared / "seeds"), "--interests", GNN, "--limit", "3", cwd=tmp_path)
    assert len(picks["papers"]) == 3


def test_exactly_one_of_subscriber_or_interests_is_required(tmp_path: Path, shared: Path) -> None:
    neither = digest("rank", str(shared / "seeds"), cwd=tmp_path)
    both = digest("rank", "--subscriber", "a@example.org", "--interests", "x", cwd=tmp_path)
    assert neither.returncode == both.returncode == 2
    assert "exactly one of --subscriber EMAIL or --interests TEXT" in neither.stderr


def test_an_unknown_subscriber_is_a_one_line_error(tmp_path: Path) -> None:
    result = digest("rank", "--subscriber", "nobody@example.org", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: no subscriber 'nobody@example.org' in the config (`digest check` counts them)"
    ]


def test_a_subscriber_never_gets_a_paper_twice(tmp_path: Path, shared: Path) -> None:
    (tmp_path / "digest.toml").write_text(
        '[digest]\ncandidate_days = 3\n[[subscribers]]\nemail = "ada@example.org"\n'
        'interests = ["graph neural networks"]\nmax_papers = 5\n',
        encoding="utf-8",
    )
    collected = digest("collect", str(shared / "seeds"), cwd=tmp_path)
    assert collected.returncode == 0, collected.stderr
    args = ("--subscriber", "ada@example.org", "--date", "2026-03-12")
    first = rank_json(*args, cwd=tmp_path)
    assert len(first["papers"]) == 5
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        sent = [paper["id"] for paper in first["papers"][:2]]
        store.ledger.record_delivery(
            "ada@example.org", date(2026, 3, 12), sent, now=datetime.now(UTC)
        )
    second = rank_json(*args, cwd=tmp_path)
    assert not {paper["id"] for paper in second["papers"]} & set(sent)
    assert len(second["papers"]) == 5


def test_a_subscriber_is_previewed_with_the_votes_they_cast_on_the_web(
    tmp_path: Path, shared: Path
) -> None:
    """`digest rank --subscriber` shows the order a send would use: with the votes
    `digest serve` recorded; a --dislike of the same paper beats the recorded like."""
    (tmp_path / "digest.toml").write_text(
        '[digest]\ncandidate_days = 3\n[[subscribers]]\nemail = "ada@example.org"\n'
        'interests = ["graph neural networks"]\nmax_papers = 5\n',
        encoding="utf-8",
    )
    assert digest("collect", str(shared / "seeds"), cwd=tmp_path).returncode == 0
    args = ("--subscriber", "ada@example.org", "--date", "2026-03-12")
    liked = rank_json(*args, cwd=tmp_path)["papers"][0]
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        store.votes.record("ada@example.org", liked["id"], MORE, now=datetime.now(UTC))
    voted = rank_json(*args, cwd=tmp_path)["papers"]
    assert liked["id"] not in [paper["id"] for paper in voted]
    assert any(f"like: {liked['title']}" in paper["reasons"] for paper in voted)
    overruled = rank_json(*args, "--dislike", liked["id"], cwd=tmp_path)["papers"]
    assert not any("like: " in reason for paper in overruled for reason in paper["reasons"])


def test_stored_candidates_come_from_the_edition_window(tmp_path: Path, shared: Path) -> None:
    collected = digest("collect", str(shared / "seeds" / "000_ce849831d427977b.txt"), cwd=tmp_path)
    assert collected.returncode == 0
    # The dump is a listing of Mar 12: it is news on Mar 12, not a week later.
    on_the_day = rank_json("--interests", "video", "--date", "2026-03-12", cwd=tmp_path)
    later = rank_json("--interests", "video", "--date", "2026-03-20", cwd=tmp_path)
    assert on_the_day["papers"] and later["papers"] == []


def test_the_table_shows_rank_score_title_and_reasons(tmp_path: Path, shared: Path) -> None:
    result = digest("rank", str(shared / "seeds"), "--interests", GNN, "--limit", "2", cwd=tmp_path)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].endswith(": 2 papers")
    assert "matches: " in result.stdout


def test_likes_and_dislikes_reshape_the_picks(tmp_path: Path, shared: Path) -> None:
    video = ("--interests", "video understanding", "--limit", "5")
    plain = rank_json(str(shared / "seeds"), *video, cwd=tmp_path)
    liked = plain["papers"][0]["id"]
    disliked = plain["papers"][1]["id"]
    voted = rank_json(
        str(shared / "seeds"), *video, "--like", liked, "--dislike", disliked, cwd=tmp_path
    )
    ids = [paper["id"] for paper in voted["papers"]]
    assert liked not in ids and disliked not in ids
    like_reason = f"like: {plain['papers'][0]['title']}"
    assert any(like_reason in paper["reasons"] for paper in voted["papers"])


def test_a_vote_that_names_no_paper_is_a_usage_error(tmp_path: Path, shared: Path) -> None:
    result = digest("rank", str(shared / "seeds"), "--interests", GNN, "--like", "x", cwd=tmp_path)
    assert result.returncode == 2
    assert "Invalid value for '--like': 'x' names no paper" in result.stderr


def test_a_date_that_does_not_exist_is_named_as_such(tmp_path: Path) -> None:
    result = digest("rank", "--sample", "--interests", GNN, "--date", "2026-02-30", cwd=tmp_path)
    assert result.returncode == 2
    assert (
        "Invalid value for '--date': '2026-02-30' is not a date (day is out of range for month)"
        in result.stderr
    )
    wrong = digest("rank", "--sample", "--interests", GNN, "--date", "30/02/2026", cwd=tmp_path)
    assert wrong.returncode == 2 and "does not match the format '%Y-%m-%d'" in wrong.stderr


def test_one_paper_both_liked_and_disliked_is_refused(tmp_path: Path) -> None:
    """By any of its ids: an arXiv id with and without version names one paper."""
    both = digest(
        "rank", "--sample", "--interests", GNN, "--like", "2508.13167",
        "--dislike", "arXiv:2508.13167v2", cwd=tmp_path,
    )  # fmt: skip
    assert both.returncode == 2
    assert "--like and --dislike both name arxiv:2508.13167: keep one" in both.stderr
    code, errors = check_with(
        tmp_path,
        '[[subscribers]]\nemail = "a@example.org"\nlikes = ["2508.13167"]\n'
        'dislikes = ["https://arxiv.org/abs/2508.13167v1"]\n',
    )
    assert (code, errors) == (
        2,
        ["error: subscribers.0: likes and dislikes both name arxiv:2508.13167: keep one"],
    )


MARKUP_FEED = """<?xml version='1.0' encoding='UTF-8'?>
<rss version="2.0"><channel><title>cs.LG updates on arXiv.org</title>
<link>http://rss.arxiv.org/rss/cs.LG</link><pubDate>Tue, 01 Dec 2026 00:00:00 -0500</pubDate>
<item><title>Graph neural networks: a note on [/] and [bold]loud[/bold] tags</title>
<link>https://arxiv.org/abs/2515.00004</link>
<description>arXiv:2515.00004v1 Announce Type: new Abstract: About graph neural networks.
</description></item></channel></rss>
"""


def test_a_title_or_location_that_looks_like_terminal_markup_is_shown_as_it_is(
    tmp_path: Path,
) -> None:
    """The tables are drawn with rich, which reads "[bold]" as a style and "[/]" with
    nothing open as an error: a source's text is never markup (it crashed `rank`)."""
    folder = tmp_path / "[red]feeds"
    folder.mkdir()
    (folder / "feed.xml").write_text(MARKUP_FEED, encoding="utf-8")
    ranked = digest("rank", str(folder / "feed.xml"), "--interests", GNN, cwd=tmp_path)
    assert ranked.returncode == 0, ranked.stderr
    assert "Graph neural networks: a note on [/] and [bold]loud[/bold] tags" in ranked.stdout
    collected = digest("collect", str(folder / "feed.xml"), cwd=tmp_path)
    assert collected.returncode == 0, collected.stderr
    assert "[red]feeds" in collected.stdout


def test_with_json_a_usage_error_still_prints_one_json_object(tmp_path: Path) -> None:
    """Click's own refusals (a bad option value, a missing choice) print its usage on
    stderr; with --json, stdout also holds the error, as for every other failure."""
    for args, error in (
        (
            ["rank", "--sample", "--json"],
            "give exactly one of --subscriber EMAIL or --interests TEXT",
        ),
        (["send", "--json", "--date", "2026-13-01"], "Invalid value for '--date'"),
    ):
        result = digest(*args, cwd=tmp_path)
        assert result.returncode == 2, args
        found = json.loads(result.stdout)
        assert found["error"].startswith(error) and found["errors"] == [found["error"]], args
        assert "Usage: " in result.stderr
    plain = digest("rank", "--sample", cwd=tmp_path)
    assert (plain.returncode, plain.stdout) == (2, "")
