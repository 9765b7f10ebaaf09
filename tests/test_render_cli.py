"""`digest render` end to end: a previewable digest from the seed dumps, no config needed."""

from __future__ import annotations

import email
import os
import re
import stat
import sys
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from digest.mail.envelope import PREVIEW_RECIPIENT, preview_recipient
from tests.test_collect_cli import digest


def seeds(shared: Path) -> list[str]:
    return [str(path) for path in sorted((shared / "seeds").glob("*.txt"))]


def test_a_fresh_install_previews_a_digest_from_the_seed_dumps(
    tmp_path: Path, shared: Path
) -> None:
    result = digest("render", *seeds(shared), "--out", "preview.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["preview.html"]
    html = (tmp_path / "preview.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert len(html.encode()) < 100 * 1024
    assert "papers" in result.stdout and "bytes" in result.stdout


def test_without_an_output_file_the_text_part_is_printed(tmp_path: Path, shared: Path) -> None:
    result = digest("render", *seeds(shared), "--interests", "graph neural networks", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "<" not in result.stdout.split("\n", 1)[0]
    # 72 columns, but for a URL too long for a line standing alone on its own; SMTP's
    # limit of 998 for every line.
    for line in result.stdout.splitlines():
        assert len(line) <= 72 or re.fullmatch(r" *https?://\S+", line), line
        assert len(line) <= 998
    papers = set(re.findall(r"^(\d+)\.\s", result.stdout, re.MULTILINE))
    links = re.findall(
        r"^    (?:Abstract|Paper|Search arXiv):\s+https?://", result.stdout, re.MULTILINE
    )
    assert len(papers) == len(links) > 0  # every paper has a link, a dump's too


def test_the_text_file_and_the_eml_match_what_is_sent(tmp_path: Path, shared: Path) -> None:
    result = digest(
        "render",
        *seeds(shared),
        "--interests",
        "video understanding",
        "--text",
        "digest.txt",
        "--eml",
        "digest.eml",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    raw = (tmp_path / "digest.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == "Paper Digest <digest@localhost>"
    # No reader: a well-formed placeholder, never digest@localhost (TO_MALFORMED).
    assert message["To"] == "preview@example.invalid"
    assert message["Subject"]
    plain = message.get_body(("plain",))
    assert plain is not None
    sent_text = plain.get_content().replace("\r\n", "\n")
    assert sent_text == (tmp_path / "digest.txt").read_text(encoding="utf-8")


def test_a_subscriber_from_the_config_is_greeted_by_name(tmp_path: Path, shared: Path) -> None:
    (tmp_path / "digest.toml").write_text(
        '[digest]\nsender = "Papers <papers@example.org>"\ncontact = "1 Example Street"\n'
        '[[subscribers]]\nemail = "ada@example.org"\nname = "Ada"\n'
        'interests = ["graph neural networks"]\n',
        encoding="utf-8",
    )
    result = digest(
        "render", *seeds(shared), "--subscriber", "ada@example.org", "--out", "a.html", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "a.html").read_text(encoding="utf-8")
    assert "Ada" in html and "1 Example Street" in html
    assert "graph neural networks" in html


@pytest.mark.parametrize(
    ("sender", "to"),
    [
        ("Paper Digest <digest@localhost>", PREVIEW_RECIPIENT),
        ("digest@localhost", PREVIEW_RECIPIENT),
        ("Papers <papers@example.org>", "papers@example.org"),
        ("papers@lists.example.org", "papers@lists.example.org"),
        ("Odd <papers@example.>", PREVIEW_RECIPIENT),
    ],
)
def test_a_preview_without_a_reader_is_addressed_to_a_well_formed_address(
    sender: str, to: str
) -> None:
    assert preview_recipient(sender) == to


def test_subscriber_and_interests_together_are_a_usage_error(tmp_path: Path) -> None:
    result = digest("render", "--subscriber", "a@example.org", "--interests", "x", cwd=tmp_path)
    assert result.returncode == 2
    assert "at most one of --subscriber EMAIL or --interests TEXT" in result.stderr


def test_two_outputs_naming_one_file_are_a_usage_error(tmp_path: Path) -> None:
    """The text part would silently replace the HTML the command said it wrote."""
    result = digest("render", "--sample", "--out", "same", "--text", "./same", cwd=tmp_path)
    assert result.returncode == 2
    assert "--out, --text and --eml name one file twice" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_output_is_one_line_and_leaves_nothing(tmp_path: Path, shared: Path) -> None:
    result = digest("render", *seeds(shared), "--out", "missing/preview.html", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: missing/preview.html: cannot write (No such file or directory)"
    ]
    assert list(tmp_path.iterdir()) == []


def test_open_hands_the_file_to_the_browser(tmp_path: Path, shared: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(
        f"#!{sys.executable}\nimport sys, pathlib\n"
        f"pathlib.Path({str(opened)!r}).write_text(sys.argv[1])\n",
        encoding="utf-8",
    )
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    result = digest(
        "render",
        *seeds(shared),
        "--out",
        "preview.html",
        "--open",
        cwd=tmp_path,
        env={"BROWSER": str(browser), "DISPLAY": os.environ.get("DISPLAY", "")},
    )
    assert result.returncode == 0, result.stderr
    assert opened.read_text() == (tmp_path / "preview.html").as_uri()
