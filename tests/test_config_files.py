"""The config file as an operator meets it: paths relative to the file, secrets kept out
of sight, and every way a setting can be wrong told in one line, exit code 2."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from digest.state.store import Store
from tests.test_collect_cli import digest


def test_relative_paths_follow_the_config_file_wherever_digest_runs(
    tmp_path: Path, shared: Path
) -> None:
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    site.mkdir()
    elsewhere.mkdir()
    shutil.copytree(shared / "seeds", site / "listings")
    (site / "digest.toml").write_text(
        '[[sources]]\nname = "saved"\nlocation = "listings"\n', encoding="utf-8"
    )
    config = str(site / "digest.toml")
    collected = digest("collect", "--config", config, cwd=elsewhere)
    assert collected.returncode == 0, collected.stderr
    assert (site / "digest.db").is_file() and list(elsewhere.iterdir()) == []
    ranked = digest(
        "rank", "--config", config, "--interests", "graphs", "--date", "2026-03-12", cwd=tmp_path
    )
    assert ranked.returncode == 0, ranked.stderr
    assert "graphs, edition of 2026-03-12: 10 papers" in ranked.stdout
    assert not (tmp_path / "digest.db").exists(), "one database, beside the config"


def test_a_secret_in_a_file_others_can_read_gets_a_warning(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text('[smtp]\nusername = "digest"\npassword = "hunter2"\n', encoding="utf-8")
    config.chmod(0o644)
    readable = digest("check", cwd=tmp_path)
    assert readable.returncode == 0, readable.stderr
    assert "digest.toml: holds smtp.password and other users can read it" in readable.stderr
    assert "hunter2" not in readable.stdout + readable.stderr
    config.chmod(0o600)
    private = digest("check", cwd=tmp_path)
    assert (private.returncode, private.stderr) == (0, "")


def test_an_empty_password_is_no_password(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text('[smtp]\nusername = "digest"\n', encoding="utf-8")
    result = digest("check", cwd=tmp_path, env={"DIGEST_SMTP__PASSWORD": ""})
    assert result.returncode == 2
    assert "smtp.username: 'digest' has no password" in result.stderr


def test_a_variable_that_is_not_json_is_one_line_naming_it(tmp_path: Path) -> None:
    """A section, a list or a table set from the environment is read as JSON; the error
    names the variable, not only the section it was for."""
    for name, value in (("DIGEST_SMTP", "{not json"), ("DIGEST_DIGEST__PREVIOUS_SECRETS", "k1")):
        result = digest("check", cwd=tmp_path, env={name: value})
        assert result.returncode == 2
        assert result.stderr.startswith(f"error: environment: {name}: not valid JSON ("), name
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    plain = digest("check", cwd=tmp_path, env={"DIGEST_DIGEST__SENDER": "Paper <p@example.org>"})
    assert "not valid JSON" not in plain.stderr, "a string needs no JSON"


def test_a_database_of_another_program_is_one_line(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'digest.db'}"):
        pass
    with sqlite3.connect(tmp_path / "digest.db") as conn:
        conn.execute("UPDATE meta SET value = 'v2-beta' WHERE key = 'schema_version'")
    result = digest("collect", str(tmp_path / "nothing.txt"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.endswith(
        "digest.db: schema version 'v2-beta' is not a number: not a paper-digest database?\n"
    )
    assert len(result.stderr.splitlines()) == 1


def test_a_fifo_named_as_a_config_file_is_refused_never_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "people.toml")
    (tmp_path / "digest.toml").write_text(
        '[digest]\nsubscribers_file = "people.toml"\n', encoding="utf-8"
    )
    result = digest("check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'people.toml'}: not a regular file\n"
