"""`digest collect` and `digest check` end to end: a real process, real files, a real server."""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from digest.state.store import Store
from tests.environment import clean_environment
from tests.httpserver import FeedServer

SEED_PAPERS = {
    "000_ce849831d427977b.txt": 48,
    "001_0d75d798bf0b3470.txt": 72,
    "003_664192655427e7a2.txt": 129,
}


def digest(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = clean_environment()
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def refuse_inserts(path: Path, table: str, when: str = "") -> None:
    """Make the SQLite database at `path` fail, as a full disk would, to insert rows into
    `table` (those matching the SQL condition `when`, if given)."""
    condition = f" WHEN {when}" if when else ""
    with sqlite3.connect(path) as connection:
        connection.execute(
            f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table}{condition}"
            " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )


def database_refusing_sources(path: Path) -> str:
    """A new SQLite database at `path` (its URL) that fails, as a full disk would, to store
    the sightings of any source whose location says "refused"."""
    url = f"sqlite:///{path}"
    Store(url).close()
    refuse_inserts(path, "sightings", "NEW.location LIKE '%refused%'")
    return url


def collect_json(*args: str, cwd: Path) -> tuple[int, dict[str, Any], str]:
    result = digest("collect", "--json", *args, cwd=cwd)
    return result.returncode, json.loads(result.stdout), result.stderr


def by_location(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(source["location"]).name: source for source in report["sources"]}


def test_collecting_the_seed_dumps_stores_every_paper(tmp_path: Path, shared: Path) -> None:
    code, report, stderr = collect_json(str(shared / "seeds"), "--db", "d.db", cwd=tmp_path)
    assert (code, stderr) == (0, "")
    sources = by_location(report)
    assert {name: source["papers"] for name, source in sources.items()} == SEED_PAPERS
    assert {source["kind"] for source in sources.values()} == {"dump"}
    assert report["new"] == report["total"] > 0
    assert report["seen_before"] == 0
    assert (tmp_path / "d.db").is_file()


def test_collecting_the_same_sources_twice_adds_no_paper_twice(
    tmp_path: Path, shared: Path
) -> None:
    first_code, first, _ = collect_json(str(shared / "seeds"), str(shared / "feeds"), cwd=tmp_path)
    second_code, second, _ = collect_json(
        str(shared / "seeds"), str(shared / "feeds"), cwd=tmp_path
    )
    assert first_code == second_code == 0
    assert second["new"] == 0
    assert second["seen_before"] == second["total"] == first["total"]


def test_one_file_named_two_ways_is_one_listing(tmp_path: Path, shared: Path) -> None:
    # A config's absolute path and a hand-run relative one: two sightings of every paper
    # made it look listed twice (trending).
    (tmp_path / "here").mkdir()
    seed = shared / "seeds" / "000_ce849831d427977b.txt"
    relative = os.path.relpath(seed, tmp_path / "here")
    assert digest("collect", relative, cwd=tmp_path / "here").returncode == 0
    assert digest("collect", str(seed), "--db", "here/digest.db", cwd=tmp_path).returncode == 0
    with Store(f"sqlite:///{tmp_path / 'here' / 'digest.db'}") as store:
        assert store.papers.sighting_count() == SEED_PAPERS[seed.name]


def test_every_recorded_feed_is_read_with_its_kind_detected_from_content(
    tmp_path: Path, shared: Path
) -> None:
    code, report, _ = collect_json(str(shared / "feeds"), cwd=tmp_path)
    assert code == 0, report
    sources = by_location(report)
    assert "SOURCES.md" not in sources
    kinds = {name: source["kind"] for name, source in sources.items()}
    assert kinds["hf_daily_papers_api_2026-06-12.json"] == "hf-api"
    assert {kinds[name] for name in kinds if name.endswith(".xml")} == {"feed"}
    assert sources["hf_daily_papers_api_2026-06-12.json"]["papers"] == 30
    weekend = sources["arxiv_rss2_cs.CL_2026-08-01_weekend_empty.xml"]
    assert (weekend["papers"], weekend["errors"]) == (0, [])
    assert weekend["warnings"], "an empty feed is said so"
    truncated = sources["arxiv_atom_cs.AI_2025-08-20.xml"]
    assert truncated["papers"] == 86 and truncated["warnings"]


def test_a_renamed_file_is_still_read_as_what_it_contains(tmp_path: Path, shared: Path) -> None:
    disguised = tmp_path / "papers.txt"
    disguised.write_bytes((shared / "feeds" / "hf_daily_papers_api_2026-06-12.json").read_bytes())
    code, report, _ = collect_json(str(disguised), cwd=tmp_path)
    assert code == 0
    assert (report["sources"][0]["kind"], report["sources"][0]["papers"]) == ("hf-api", 30)


@pytest.fixture
def bad_inputs(tmp_path: Path, shared: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "empty.xml").write_bytes(b"")
    (folder / "junk.bin").write_bytes(bytes(range(256)) * 8)
    (folder / "page.xml").write_bytes(b"<!DOCTYPE html><html><body><p>Sign in</p></body></html>")
    (folder / "good.txt").write_bytes((shared / "seeds" / "003_664192655427e7a2.txt").read_bytes())
    return folder


def test_bad_inputs_fail_alone_with_one_line_each_and_exit_1(
    tmp_path: Path, bad_inputs: Path
) -> None:
    result = digest("collect", str(bad_inputs), str(tmp_path / "missing.xml"), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 4
    assert any("empty.xml: empty document" in line for line in errors)
    assert any("junk.bin: binary data" in line for line in errors)
    assert any("page.xml: an HTML page" in line for line in errors)
    assert any("missing.xml: no such file or directory" in line for line in errors)
    assert "129 new" in result.stdout, "the good dump still went through"


def test_the_json_report_has_the_documented_shape(tmp_path: Path, bad_inputs: Path) -> None:
    code, report, _ = collect_json(str(bad_inputs), cwd=tmp_path)
    assert code == 1
    assert set(report) == {"sources", "new", "seen_before", "total", "encoded"}
    assert report["encoded"] == 0, "ranking by words: nothing to encode"
    for source in report["sources"]:
        assert {"source", "kind", "papers", "warnings", "errors"} <= set(source)
    assert report["total"] == report["new"] + report["seen_before"] == 129


@pytest.mark.network
def test_urls_are_fetched_and_unchanged_feeds_are_not_read_again(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.url("arxiv_api_query_cat_cs.LG_OR_cs.AI_2026-04-30.xml")
    code, first, _ = collect_json(url, cwd=tmp_path)
    assert code == 0
    assert (first["sources"][0]["papers"], first["new"]) == (20, 20)
    code, second, _ = collect_json(url, cwd=tmp_path)
    assert code == 0
    assert second["sources"][0]["warnings"] == ["not modified since the last fetch"]
    assert (
        feed_server.requests_to("/arxiv_api_query_cat_cs.LG_OR_cs.AI_2026-04-30.xml")[-1].status
        == 304
    )


@pytest.mark.network
def test_http_failures_are_one_line_each_and_other_sources_go_through(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    good = feed_server.url("hf_daily_papers_api_2026-06-12.json")
    result = digest(
        "collect",
        feed_server.url("status/404"),
        feed_server.url("status/500"),
        feed_server.url("html"),
        good,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert [line.rsplit(": ", 1)[-1] for line in errors] == [
        "HTTP 404 Not Found",
        "HTTP 500 Internal Server Error",
        "an HTML page, not a feed",
    ]
    assert "30 new" in result.stdout


def write_config(folder: Path, text: str) -> Path:
    path = folder / "digest.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_without_arguments_the_configured_sources_are_read_with_forced_kinds(
    tmp_path: Path, shared: Path
) -> None:
    write_config(
        tmp_path,
        f"""
[[sources]]
name = "dumps"
location = "{shared / "seeds"}/*.txt"
[[sources]]
name = "hf"
location = "{shared / "feeds" / "hf_daily_papers_api_2026-06-12.json"}"
kind = "hf-api"
""",
    )
    code, report, _ = collect_json(cwd=tmp_path)
    assert code == 0
    assert [source["source"] for source in report["sources"]] == ["dumps"] * 3 + ["hf"]


def test_a_configured_sources_problems_name_the_source_and_its_file(
    tmp_path: Path, bad_inputs: Path
) -> None:
    write_config(
        tmp_path,
        f'[[sources]]\nname = "saved-pages"\nlocation = "{bad_inputs}/*.xml"\n'
        f'[[sources]]\nname = "lost"\nlocation = "{tmp_path / "missing.xml"}"\n',
    )
    result = digest("collect", cwd=tmp_path)
    errors = sorted(line for line in result.stderr.splitlines() if line.startswith("error: "))
    assert errors == [
        f"error: lost ({tmp_path / 'missing.xml'}): no such file or directory",
        f"error: saved-pages ({bad_inputs / 'empty.xml'}): empty document",
        f"error: saved-pages ({bad_inputs / 'page.xml'}): an HTML page, not a feed",
    ]
    assert f"saved-pages ({bad_inputs / 'empty.xml'})" in result.stdout  # the table too


def test_a_sources_problems_on_the_command_line_name_the_file_alone(
    tmp_path: Path, bad_inputs: Path
) -> None:
    # The argument is the source's name: a folder's or a glob's file says it already.
    result = digest("collect", str(bad_inputs), f"{bad_inputs}/*.bin", cwd=tmp_path)
    errors = sorted(line for line in result.stderr.splitlines() if line.startswith("error: "))
    assert {line.split(": ")[1] for line in errors} == {
        str(bad_inputs / name) for name in ("empty.xml", "junk.bin", "page.xml")
    }


def test_a_forced_kind_that_does_not_fit_the_content_is_an_error(
    tmp_path: Path, shared: Path
) -> None:
    seed = shared / "seeds" / "003_664192655427e7a2.txt"
    write_config(tmp_path, f'[[sources]]\nname = "x"\nlocation = "{seed}"\nkind = "hf-api"\n')
    code, report, _ = collect_json(cwd=tmp_path)
    assert code == 1 and report["sources"][0]["errors"]


def test_nothing_to_collect_says_how_to_fix_it(tmp_path: Path) -> None:
    result = digest("collect", cwd=tmp_path)
    assert result.returncode == 2, "the config stops it, as a config error would"
    assert result.stderr.strip().startswith("error: nothing to collect (give SOURCE arguments")


def test_check_summarizes_the_config_without_secrets(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        '[smtp]\nhost = "mail.example.org"\nusername = "digest"\n'
        '[[subscribers]]\nemail = "ada@example.org"\ninterests = ["graphs"]\n',
    )
    result = digest("check", cwd=tmp_path, env={"DIGEST_SMTP__PASSWORD": "hunter2"})
    assert result.returncode == 0, result.stderr
    assert "smtp: mail.example.org:587 (starttls, user digest, password set)" in result.stdout
    assert "subscribers: 1 (1 with interests, 0 everything trending)" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr


def test_check_prints_each_config_error_on_one_line_and_exits_2(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[digest]\nmax_papers = -1\nsend_at = 'noon'\n")
    result = digest("check", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: digest.max_papers: Input should be greater than or equal to 1",
        "error: digest.send_at: 'noon' is not a time of day like '07:00'",
    ]


def test_tracebacks_appear_only_with_verbose(tmp_path: Path) -> None:
    quiet = digest("collect", "--db", str(tmp_path / "no" / "dir" / "x.db"), "x", cwd=tmp_path)
    loud = digest("-v", "collect", "--db", str(tmp_path / "no" / "dir" / "x.db"), "x", cwd=tmp_path)
    assert quiet.returncode == loud.returncode == 1
    assert "Traceback" not in quiet.stderr and "Traceback" in loud.stderr
    assert quiet.stderr.strip().startswith("error: sqlite:///")


def run_on_a_terminal(*args: str, cwd: Path) -> tuple[int, str]:
    """Run `digest` with a pseudo-terminal as stdin, stdout and stderr; return all it wrote."""
    controller, terminal = pty.openpty()
    environment = clean_environment()
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=environment | {"TERM": "xterm", "COLUMNS": "120"},
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process is done writing
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    return process.wait(timeout=60), output.decode("utf-8", errors="replace")


def test_a_terminal_shows_a_progress_bar(tmp_path: Path, shared: Path) -> None:
    code, output = run_on_a_terminal("collect", str(shared / "seeds"), cwd=tmp_path)
    assert code == 0
    assert "collecting" in output and "3/3" in output
    assert "204 new" in output  # 249 listings of 204 distinct papers


def test_json_on_a_terminal_shows_no_progress_bar(tmp_path: Path, shared: Path) -> None:
    code, output = run_on_a_terminal("collect", "--json", str(shared / "seeds"), cwd=tmp_path)
    assert code == 0
    assert "3/3" not in output and "\x1b[" not in output
    assert json.loads(output)["total"] == 204


def test_output_to_a_pipe_shows_no_progress_bar(tmp_path: Path, shared: Path) -> None:
    result = digest("collect", str(shared / "seeds"), cwd=tmp_path)
    assert "3/3" not in result.stdout + result.stderr
    assert "\x1b[" not in result.stdout + result.stderr


# No single bad input stops the run ----------------------------------------------------

CORPUS = Path(__file__).parent / "data" / "feedparser_corpus"


def test_the_whole_feedparser_corpus_is_collected_in_one_run_without_a_traceback(
    tmp_path: Path,
) -> None:
    files = sorted(str(path) for path in CORPUS.rglob("*.xml"))
    result = digest("collect", "--json", "--db", "d.db", *files, cwd=tmp_path)
    assert result.returncode in (0, 1)
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert sorted(source["location"] for source in report["sources"]) == files
    skipped = [
        warning
        for source in report["sources"]
        for warning in source["warnings"]
        if warning.endswith("title has no letters or digits, skipped")
    ]
    assert len(skipped) >= 70, "the amp/ feeds titled '&' are skipped, not fatal"


# Bad entries beside good ones, in each kind of source: the good ones must all be stored.
BAD_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>t</title><link>https://example.org/</link>
<item><title>&amp;</title></item>
<item><title>?</title></item>
<item><title>---</title></item>
<item><title>&#8230;</title></item>
<item><title>&#8734;</title></item>
<item><title>&#128512;&#128512;</title></item>
<item><title>&#8203;</title></item>
<item><title>&#8207;</title></item>
<item><title>An absurd version</title>
  <guid>http://arxiv.org/abs/2601.00001v99999999999999999999</guid></item>
<item><title>An absurd upvote count</title><guid>https://example.org/p/2</guid>
  <description>Authors: Ada Upvotes: 99999999999999999999 Summary: Counted.</description></item>
<item><title>A lone &#xD800;surrogate</title><guid>https://example.org/p/3</guid></item>
</channel></rss>
"""
BAD_DUMP = f"""Daily Papers
Mar 12
***
{"An abstract under a title of stars alone, long enough to read as prose. " * 2}
A Good Dumped Paper
{"An abstract under a proper title, long enough to read as prose for sure. " * 2}
"""
BAD_HF_ITEMS: list[dict[str, Any]] = [
    {"paper": {"id": "not-arxiv", "title": "???"}},
    {"paper": {"id": "2606.10002", "title": "Upvotes past 2^63", "upvotes": 2**63}},
    {"paper": {"id": "2606.10003v99999999999999999999", "title": "A version past 2^63"}},
    {
        "paper": {
            "id": "2606.10004",
            "title": "Published in year 1",
            "publishedAt": "0001-01-01T00:00:00+01:00",
        }
    },
    {
        "paper": {
            "id": "2606.10005",
            "title": "Listed in year 1",
            "submittedOnDailyAt": "0001-01-01T00:00:00+01:00",
        }
    },
    {"paper": {"id": "2606.10006", "title": "Half a \ud800pair", "summary": "Text \udc00here."}},
]


@pytest.fixture
def bad_entries(tmp_path: Path) -> Path:
    folder = tmp_path / "entries"
    folder.mkdir()
    (folder / "feed.xml").write_text(BAD_FEED, encoding="utf-8")
    (folder / "dump.txt").write_text(BAD_DUMP, encoding="utf-8")
    (folder / "hf.json").write_text(json.dumps(BAD_HF_ITEMS), encoding="ascii")
    return folder


def test_bad_entries_are_skipped_or_mended_with_a_warning_and_the_rest_is_stored(
    tmp_path: Path, bad_entries: Path
) -> None:
    code, report, stderr = collect_json(str(bad_entries), "--db", "d.db", cwd=tmp_path)
    assert code == 0
    # Each warning of the report is also one line on stderr.
    assert len(stderr.splitlines()) == sum(len(s["warnings"]) for s in report["sources"])
    assert all(line.startswith("warning: ") for line in stderr.splitlines())
    sources = by_location(report)
    assert sources["feed.xml"]["warnings"] == [
        "removed character references to no character (like &#xD800;)",
        *(f"entry {number}: title has no letters or digits, skipped" for number in range(1, 9)),
        "entry 9: arXiv version out of range, dropped",
        "entry 10: upvotes out of range, dropped",
    ]
    assert sources["dump.txt"]["warnings"] == ["entry 1: title has no letters or digits, skipped"]
    assert sources["hf.json"]["warnings"] == [
        "item 1: id 'not-arxiv' is not an arXiv id",
        "item 4: publishedAt '0001-01-01T00:00:00+01:00' cannot be converted to UTC, dropped",
        "item 5: submittedOnDailyAt '0001-01-01T00:00:00+01:00' cannot be converted to UTC, "
        "dropped",
        "item 1: title has no letters or digits, skipped",
        "item 2: upvotes out of range, dropped",
        "item 3: arXiv version out of range, dropped",
        "item 6: lone surrogates removed from title, abstract",
    ]
    with Store(f"sqlite:///{tmp_path / 'd.db'}") as store:
        stored = store.papers.by_canonical_id()
        upvotes = [sighting.upvotes for sighting in store.papers.sightings_of("arxiv:2606.10002")]
    titles = sorted(paper.title for paper in stored.values())
    assert titles == [
        "A Good Dumped Paper",
        "A lone surrogate",
        "A version past 2^63",
        "An absurd upvote count",
        "An absurd version",
        "Half a pair",
        "Listed in year 1",
        "Published in year 1",
        "Upvotes past 2^63",
    ]
    assert stored["arxiv:2601.00001"].arxiv_version is None
    assert stored["arxiv:2606.10003"].arxiv_version is None
    assert stored["arxiv:2606.10004"].published is None
    assert stored["arxiv:2606.10006"].abstract == "Text here."
    assert upvotes == [None]


def test_a_source_the_database_refuses_fails_alone_and_the_run_goes_on(
    tmp_path: Path, shared: Path
) -> None:
    url = database_refusing_sources(tmp_path / "d.db")
    refused = tmp_path / "refused.txt"
    refused.write_bytes((shared / "seeds" / "000_ce849831d427977b.txt").read_bytes())
    hf = shared / "feeds" / "hf_daily_papers_api_2026-06-12.json"
    seed = shared / "seeds" / "003_664192655427e7a2.txt"
    result = digest(
        "collect", "--json", "--db", "d.db", str(hf), str(refused), str(seed), cwd=tmp_path
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    sources = by_location(json.loads(result.stdout))
    assert {name: source["papers"] for name, source in sources.items()} == {
        "hf_daily_papers_api_2026-06-12.json": 30,
        "refused.txt": 0,
        "003_664192655427e7a2.txt": 129,
    }
    assert sources["refused.txt"]["errors"] == [
        "sqlite:///d.db: cannot save papers (database or disk is full)"
    ]
    # With --json too, every problem is a line on stderr: a cron job logs it.
    assert f"error: {refused}: sqlite:///d.db: cannot save papers" in result.stderr
    with Store(url) as store:
        assert store.papers.count() == 30 + 129


def test_a_source_that_fails_to_store_for_any_other_reason_fails_alone_too(
    tmp_path: Path, shared: Path
) -> None:
    # A file name that is not UTF-8 reads well but cannot be written as a sighting's location.
    unnamed = tmp_path / os.fsdecode(b"\xff.txt")
    unnamed.write_bytes((shared / "seeds" / "000_ce849831d427977b.txt").read_bytes())
    seed = shared / "seeds" / "003_664192655427e7a2.txt"
    result = subprocess.run(
        [sys.executable, "-m", "digest", "collect", "--json", str(unnamed), str(seed)],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr
    failed, stored = json.loads(result.stdout.decode(errors="surrogateescape"))["sources"]
    assert failed["errors"][0].startswith("internal error while storing: UnicodeEncodeError(")
    assert (stored["papers"], stored["errors"]) == (129, [])
