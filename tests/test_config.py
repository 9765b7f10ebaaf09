"""The config: one TOML file, DIGEST_* environment overrides, one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from digest.config import NAME_LIMIT, load_config
from digest.errors import ConfigError
from digest.mail.envelope import Envelope
from digest.mail.message import build_message

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DIGEST_* variable and no ./digest.toml from the developer's shell leaks in."""
    import os

    for name in list(os.environ):
        if name.startswith("DIGEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.lines


def test_the_example_config_loads_and_documents_every_section() -> None:
    settings = load_config(ROOT / "config.example.toml")
    assert settings.digest.sender == "Paper Digest <digest@example.org>"
    assert settings.smtp.security == "starttls"
    assert [source.name for source in settings.sources] == [
        "arxiv-cs-lg",
        "hf-daily",
        "arxiv-api-cs-cl",
    ]
    assert not [source for source in settings.sources if "shared" in source.location]
    assert settings.subscribers[0].interests == ("graph neural networks", "link prediction")


def test_without_a_config_file_the_built_in_defaults_apply() -> None:
    settings = load_config(None)
    assert settings.state.url == "sqlite:///digest.db"
    assert settings.digest.max_papers == 10
    assert settings.sources == () and settings.subscribers == ()


def test_digest_toml_in_the_working_directory_is_read_by_default(tmp_path: Path) -> None:
    write(tmp_path / "digest.toml", "[digest]\nmax_papers = 3\n")
    assert load_config(None).digest.max_papers == 3


def test_a_named_config_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    assert errors_of(tmp_path / "missing.toml") == [
        f"{tmp_path / 'missing.toml'}: no such config file"
    ]


def test_the_environment_overrides_the_file_field_by_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "c.toml", '[smtp]\nhost = "file.example.org"\nport = 25\n')
    monkeypatch.setenv("DIGEST_SMTP__HOST", "env.example.org")
    monkeypatch.setenv("DIGEST_SMTP__PASSWORD", "hunter2")
    settings = load_config(path)
    assert (settings.smtp.host, settings.smtp.port) == ("env.example.org", 25)
    assert settings.smtp.password is not None
    assert settings.smtp.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.smtp)


def test_db_path_overrides_the_state_url(tmp_path: Path) -> None:
    settings = load_config(None, db_path=tmp_path / "x.db")
    assert settings.state.url == f"sqlite:///{tmp_path / 'x.db'}"


def test_every_validation_error_is_one_line_naming_its_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.toml",
        """
[digest]
sender = "digest at example dot org"
max_papers = 0
timezone = "Mars/Olympus"
send_at = "7 o'clock"
[smtp]
security = "tls"
[[sources]]
name = "x"
location = "feed.xml"
kind = "podcast"
[[subscribers]]
email = "not-an-address"
colour = "red"
""",
    )
    lines = errors_of(path)
    fields = [line.split(":", 1)[0] for line in lines]
    assert fields == [
        "digest.sender",
        "digest.max_papers",
        "digest.send_at",
        "digest.timezone",
        "smtp.security",
        "sources.0.kind",
        "subscribers.0.email",
        "subscribers.0.colour",
    ]
    assert all("\n" not in line for line in lines)
    assert "unknown time zone 'Mars/Olympus'" in lines[3]


def test_a_subscriber_listed_twice_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[[subscribers]]\nemail = "ada@example.org"\n[[subscribers]]\nemail = "Ada@Example.org"\n',
    )
    assert errors_of(path) == ["subscribers.1.email: 'ada@example.org' appears twice"]


def test_toml_syntax_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[digest\nmax_papers = 3\n")
    [line] = errors_of(path)
    assert line.startswith(f"{path}: not valid TOML") and "line 1" in line


def test_subscribers_can_live_in_a_separate_file(tmp_path: Path) -> None:
    write(tmp_path / "people.toml", '[[subscribers]]\nemail = "bob@example.org"\n')
    path = write(
        tmp_path / "c.toml",
        '[digest]\nsubscribers_file = "people.toml"\n[[subscribers]]\nemail = "ada@example.org"\n',
    )
    emails = [str(subscriber.email) for subscriber in load_config(path).subscribers]
    assert emails == ["ada@example.org", "bob@example.org"]


def test_errors_in_the_subscribers_file_name_that_file(tmp_path: Path) -> None:
    people = write(tmp_path / "people.toml", '[[subscribers]]\nemail = "nope"\n')
    path = write(tmp_path / "c.toml", '[digest]\nsubscribers_file = "people.toml"\n')
    [line] = errors_of(path)
    assert line.startswith(f"{people}: subscribers.0.email:")


def test_a_name_too_long_for_a_mail_header_is_refused_up_front(tmp_path: Path) -> None:
    # It passed the config and then failed that subscriber's send, every day.
    long = "Ü" * 101
    path = write(
        tmp_path / "long.toml",
        f'[digest]\nsender = "{long} <d@example.org>"\n'
        f'[[subscribers]]\nemail = "a@example.org"\nname = "{long}"\n',
    )
    assert errors_of(path) == [
        "digest.sender: the name is 101 characters long; a mail header takes 100 at most",
        "subscribers.0.name: the name is 101 characters long; a mail header takes 100 at most",
    ]


NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


def test_the_longest_name_the_config_takes_goes_into_a_message(tmp_path: Path) -> None:
    widest = "😀" * NAME_LIMIT  # four bytes each in UTF-8: the longest encoding there is
    path = write(
        tmp_path / "widest.toml",
        f'[digest]\nsender = "{widest} <d@example.org>"\n'
        f'[[subscribers]]\nemail = "a@example.org"\nname = "{widest}"\n',
    )
    settings = load_config(path)
    envelope = Envelope(
        sender=settings.digest.sender,
        recipient="a@example.org",
        recipient_name=settings.subscribers[0].name,
        edition=NOW.date(),
    )
    wire = build_message(envelope, subject="s", text="t", html="<p>h</p>", now=NOW)
    parsed = BytesParser(policy=policy.default).parsebytes(wire.data)
    assert parsed["To"].addresses[0].display_name == widest
    assert parsed["From"].addresses[0].display_name == widest
    assert max(len(line) for line in wire.data.split(b"\r\n")) <= 998


def test_a_source_without_a_location_is_a_config_error_not_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path / "s.toml", '[[sources]]\nname = "feeds"\npath = "feeds/"\n')
    assert errors_of(path) == [
        "sources.0.location: Field required",
        "sources.0.path: unknown setting",
    ]


def test_a_config_saved_with_a_byte_order_mark_and_crlf_loads(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[digest]\r\nmax_papers = 7\r\n")
    assert load_config(path).digest.max_papers == 7


def test_the_subscribers_file_can_be_named_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As every setting can be; it was ignored, and its readers silently not mailed.
    write(tmp_path / "people.toml", '[[subscribers]]\nemail = "grace@example.org"\n')
    path = write(tmp_path / "digest.toml", '[[subscribers]]\nemail = "ada@example.org"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGEST_DIGEST__SUBSCRIBERS_FILE", "people.toml")
    emails = [subscriber.email for subscriber in load_config(path).subscribers]
    assert emails == ["ada@example.org", "grace@example.org"]
