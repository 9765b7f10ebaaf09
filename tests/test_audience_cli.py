"""`digest subscribers` and `digest bounces`: who is mailed, who is not, and why.

The config says who is subscribed; the database can only stop mail, until the address is
resubscribed. Runs the real command against a real database file and Maildir folder.
"""

from __future__ import annotations

import json
import mailbox
from pathlib import Path
from typing import Any

from digest.state.store import Store
from tests.test_collect_cli import digest

NOTICES = Path(__file__).parent / "data" / "notices"
CONFIG = """\
[digest]
sender = "Paper Digest <digest@example.org>"
[delivery]
soft_bounce_limit = 2
[[subscribers]]
email = "ada@example.org"
name = "Ada"
[[subscribers]]
email = "bob@example.com"
[[subscribers]]
email = "carol@example.com"
"""


def configured(folder: Path) -> None:
    """A list that has sent: its config, and the database its sends made."""
    (folder / "digest.toml").write_text(CONFIG)
    Store(f"sqlite:///{folder / 'digest.db'}").close()


def listing(folder: Path) -> dict[str, dict[str, Any]]:
    result = digest("subscribers", "list", "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    return {row["email"]: row for row in json.loads(result.stdout)["subscribers"]}


def maildir_of(folder: Path, *names: str) -> Path:
    box = mailbox.Maildir(folder / "bounces", create=True)
    for name in names:
        box.add((NOTICES / name).read_bytes())
    return folder / "bounces"


def test_everyone_configured_is_mailed_until_the_database_says_otherwise(tmp_path: Path) -> None:
    configured(tmp_path)
    rows = listing(tmp_path)
    assert list(rows) == ["ada@example.org", "bob@example.com", "carol@example.com"]
    assert all(row["mailed"] and row["status"] == "subscribed" for row in rows.values())
    assert rows["ada@example.org"]["name"] == "Ada"


def test_unsubscribe_and_resubscribe_from_the_command_line(tmp_path: Path) -> None:
    configured(tmp_path)
    done = digest("subscribers", "unsubscribe", "Ada@Example.org", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "ada@example.org: unsubscribed\n")
    again = digest("subscribers", "unsubscribe", "ada@example.org", cwd=tmp_path)
    assert again.stdout == "ada@example.org: unsubscribed already\n"
    ada = listing(tmp_path)["ada@example.org"]
    assert (ada["mailed"], ada["status"], ada["how"]) == (False, "unsubscribed", "command line")
    assert ada["since"] is not None
    back = digest("subscribers", "resubscribe", "ada@example.org", cwd=tmp_path)
    assert back.stdout == "ada@example.org: subscribed\n"
    assert listing(tmp_path)["ada@example.org"]["mailed"] is True


def test_an_address_outside_the_config_is_recorded_with_a_note_either_way(tmp_path: Path) -> None:
    configured(tmp_path)
    left = digest("subscribers", "unsubscribe", "zed@example.org", cwd=tmp_path)
    assert left.stderr == (
        "note: zed@example.org is not in the config, stays unsubscribed if it is added\n"
    )
    zed = listing(tmp_path)["zed@example.org"]
    assert (zed["configured"], zed["mailed"]) == (False, False)
    result = digest("subscribers", "resubscribe", "zed@example.org", cwd=tmp_path)
    assert "is not in the config, so it is not mailed" in result.stderr


def test_an_internationalized_address_is_one_reader_however_it_is_written(
    tmp_path: Path,
) -> None:
    """The config keeps a domain in its ASCII form, as the emails and their links have it:
    an unsubscribe written in Unicode, on the command line or by mail, is the same reader."""
    (tmp_path / "digest.toml").write_text(
        CONFIG + '[[subscribers]]\nemail = "carl@bücher.example"\n'
    )
    Store(f"sqlite:///{tmp_path / 'digest.db'}").close()  # a list that has sent
    left = digest("subscribers", "unsubscribe", "carl@bücher.example", cwd=tmp_path)
    assert (left.stdout, left.stderr) == ("carl@xn--bcher-kva.example: unsubscribed\n", "")
    assert listing(tmp_path)["carl@xn--bcher-kva.example"]["mailed"] is False
    back = digest("subscribers", "resubscribe", "carl@bücher.example", cwd=tmp_path)
    assert back.stdout == "carl@xn--bcher-kva.example: subscribed\n"
    request = "From: Carl <carl@bücher.example>\r\nSubject: unsubscribe\r\n\r\nplease\r\n"
    mailbox.Maildir(tmp_path / "bounces", create=True).add(request.encode())
    assert digest("bounces", str(tmp_path / "bounces"), cwd=tmp_path).returncode == 0
    carl = listing(tmp_path)["carl@xn--bcher-kva.example"]
    assert (carl["mailed"], carl["how"]) == (False, "mailto")
    assert len(listing(tmp_path)) == 4


def test_no_address_is_a_usage_error(tmp_path: Path) -> None:
    configured(tmp_path)
    result = digest("subscribers", "unsubscribe", "nobody", cwd=tmp_path)
    assert result.returncode == 2 and "'nobody' is not an email address" in result.stderr


def test_bounces_and_requests_in_a_maildir_stop_mail_and_are_marked_read(tmp_path: Path) -> None:
    configured(tmp_path)
    folder = maildir_of(
        tmp_path,
        "postfix_hard.eml",
        "exim_gave_up.eml",
        "exim_delayed.eml",
        "unsubscribe_request.eml",
        "question.eml",
        "delivered.eml",
    )
    result = digest("bounces", str(folder), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [bounce["recipient"] for bounce in report["hard"]] == ["bob@example.com"]
    assert [bounce["recipient"] for bounce in report["soft"]] == ["carol@example.com"]
    assert [bounce["recipient"] for bounce in report["delayed"]] == ["carol@example.com"]
    assert report["unsubscribed"] == ["ada@example.org"]
    assert report["suppressed"] == ["bob@example.com"]
    assert report["ignored"] == 2  # the question and the success notice, left for a person
    rows = listing(tmp_path)
    assert (rows["bob@example.com"]["status"], rows["bob@example.com"]["mailed"]) == (
        "bounced",
        False,
    )
    assert rows["bob@example.com"]["how"].startswith("bounce: 550 5.1.1")
    assert (rows["carol@example.com"]["soft_bounces"], rows["carol@example.com"]["mailed"]) == (
        1,
        True,
    )
    assert (rows["ada@example.org"]["how"], rows["ada@example.org"]["mailed"]) == ("mailto", False)
    unread = [
        key for key, message in mailbox.Maildir(folder).items() if "S" not in message.get_flags()
    ]
    assert len(unread) == 2


def test_a_second_run_counts_nothing_twice_and_the_limit_suppresses(tmp_path: Path) -> None:
    configured(tmp_path)
    folder = maildir_of(tmp_path, "exim_gave_up.eml")
    digest("bounces", str(folder), cwd=tmp_path)
    again = digest("bounces", str(folder), "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["soft"] == []
    assert listing(tmp_path)["carol@example.com"]["soft_bounces"] == 1
    mailbox.Maildir(folder).add((NOTICES / "exim_gave_up.eml").read_bytes())
    third = digest("bounces", str(folder), "--json", cwd=tmp_path)
    assert json.loads(third.stdout)["suppressed"] == ["carol@example.com"]
    carol = listing(tmp_path)["carol@example.com"]
    assert (carol["status"], carol["how"]) == (
        "bounced",
        "2 temporary bounces, last: 552 5.2.2 Mailbox full",
    )


def test_delay_warnings_are_marked_read_and_never_suppress_anyone(tmp_path: Path) -> None:
    # Exim warns at 24, 48, 72 and 96 hours about one message: counted as failures, four
    # warnings suppressed a reader whose mail was still on its way.
    configured(tmp_path)
    folder = maildir_of(tmp_path, *["exim_delayed.eml"] * 4)
    result = digest("bounces", str(folder), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["delayed"]) == 4
    carol = listing(tmp_path)["carol@example.com"]
    assert (carol["mailed"], carol["soft_bounces"]) == (True, 0)
    assert list((folder / "new").iterdir()) == []


def test_a_folder_that_is_no_maildir_is_one_line_and_exit_1(tmp_path: Path) -> None:
    configured(tmp_path)
    (tmp_path / "plain").mkdir()
    result = digest("bounces", str(tmp_path / "plain"), cwd=tmp_path)
    assert result.returncode == 1
    assert (
        result.stderr
        == f"error: {tmp_path / 'plain'}: not a Maildir folder (it needs cur/, new/ and tmp/)\n"
    )


def _nested(depth: int) -> bytes:
    body = "innermost\n"
    for level in range(depth):
        part = f'Content-Type: multipart/mixed; boundary="n{level}"\n\n'
        body = f"{part}--n{level}\n{body}\n--n{level}--\n"
    return ("From: x@example.net\nSubject: hi\nMIME-Version: 1.0\n" + body).encode()


def test_a_message_that_cannot_be_parsed_is_left_and_the_others_are_read(tmp_path: Path) -> None:
    configured(tmp_path)
    folder = tmp_path / "bounces"
    box = mailbox.Maildir(folder, create=True)
    # Sorted first, as an older message would be: a message nested 1,000 deep.
    (folder / "new" / "1000000000.M1.host").write_bytes(_nested(1000))
    box.add((NOTICES / "postfix_hard.eml").read_bytes())
    box.add((NOTICES / "unsubscribe_request.eml").read_bytes())
    result = digest("bounces", str(folder), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [bounce["recipient"] for bounce in report["hard"]] == ["bob@example.com"]
    assert report["unsubscribed"] == ["ada@example.org"]
    assert "1000000000.M1.host cannot be read" in result.stderr
    assert sorted(path.name for path in (folder / "new").iterdir()) == ["1000000000.M1.host"]


def test_marking_read_moves_the_file_and_keeps_its_bytes(tmp_path: Path) -> None:
    configured(tmp_path)
    folder = maildir_of(tmp_path)
    raw = (NOTICES / "postfix_hard.eml").read_bytes().replace(b"\n", b"\r\n")
    (folder / "new" / "1000000000.M1.host").write_bytes(raw)
    (folder / "cur" / "1000000001.M2.host:2,F").write_bytes(raw.replace(b"bob@", b"carol@"))
    assert digest("bounces", str(folder), cwd=tmp_path).returncode == 0
    read = sorted(path.name for path in (folder / "cur").iterdir())
    assert read == ["1000000000.M1.host:2,S", "1000000001.M2.host:2,FS"]
    assert (folder / "cur" / "1000000000.M1.host:2,S").read_bytes() == raw
    assert list((folder / "new").iterdir()) == []


def test_a_second_run_at_once_is_refused_and_counts_nothing(tmp_path: Path) -> None:
    import fcntl
    import os

    configured(tmp_path)
    folder = maildir_of(tmp_path, "exim_gave_up.eml")
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # as a first run would hold it
        result = digest("bounces", str(folder), cwd=tmp_path)
    finally:
        os.close(descriptor)
    assert result.returncode == 1
    assert result.stderr == f"error: {folder}: another digest bounces is reading it\n"
    assert listing(tmp_path)["carol@example.com"]["soft_bounces"] == 0
    assert digest("bounces", str(folder), cwd=tmp_path).returncode == 0
    assert listing(tmp_path)["carol@example.com"]["soft_bounces"] == 1


def test_bounces_without_the_database_of_the_sends_change_nothing(tmp_path: Path) -> None:
    # From cron, in the home folder and without --config: a new database there would have
    # taken the unsubscribe requests, and the list would have gone on mailing them.
    (tmp_path / "digest.toml").write_text(CONFIG)
    folder = maildir_of(tmp_path, "unsubscribe_request.eml")
    result = digest("bounces", str(folder), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: sqlite:///{tmp_path / 'digest.db'}: no such database")
    assert not (tmp_path / "digest.db").exists()
    assert len(list((folder / "new").iterdir())) == 1, "left unread for the right run"
