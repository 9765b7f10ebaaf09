"""Getting started: `digest init`, `digest render --sample`, and `digest check` catching
what a send would fail on later. Real processes in empty folders."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.test_collect_cli import digest


def papers_in(html: str) -> int:
    """How many paper cards a rendered digest holds (each card is the anchor "paper-N")."""
    return len(set(re.findall(r'id="paper-(\d+)"', html)))


def test_a_sample_digest_needs_no_config_no_database_and_nothing_beside_it(
    tmp_path: Path,
) -> None:
    result = digest("render", "--sample", "--out", "preview.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["preview.html"]
    html = (tmp_path / "preview.html").read_text(encoding="utf-8")
    assert papers_in(html) == 10
    assert "10 papers" in result.stdout


def test_sample_and_sources_together_are_a_usage_error(tmp_path: Path, shared: Path) -> None:
    result = digest("rank", "--sample", str(shared / "seeds"), "--interests", "x", cwd=tmp_path)
    assert result.returncode == 2
    assert "give SOURCE arguments or --sample, not both" in result.stderr


def test_init_writes_a_starter_config_that_check_accepts(tmp_path: Path) -> None:
    result = digest("init", "--email", "ada@example.org", "--category", "cs.CV", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wrote digest.toml: arXiv cs.CV and the Hugging Face")
    assert "digest collect" in result.stdout and "DIGEST_SMTP__PASSWORD" in result.stdout
    text = (tmp_path / "digest.toml").read_text(encoding="utf-8")
    assert 'location = "https://rss.arxiv.org/rss/cs.CV"' in text
    assert 'location = "https://huggingface.co/api/daily_papers"' in text
    assert "password" not in text.split("[smtp]")[1].split("[[sources]]")[0].replace(
        "DIGEST_SMTP__PASSWORD", ""
    ), "no secret is asked for in the file"
    check = digest("check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "sources: 2" in check.stdout and "subscribers: 1 (1 with interests" in check.stdout


def test_init_never_overwrites_a_config(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text("# my own\n", encoding="utf-8")
    result = digest("init", "mine.toml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: mine.toml: already exists; not overwritten\n"
    assert (tmp_path / "mine.toml").read_text(encoding="utf-8") == "# my own\n"
    assert [path.name for path in tmp_path.iterdir()] == ["mine.toml"], "no temporary left"


def test_init_refuses_what_would_not_load(tmp_path: Path) -> None:
    bad_category = digest("init", "--category", "not a category", cwd=tmp_path)
    assert bad_category.returncode == 2, "a bad input, as a bad --email is"
    assert bad_category.stderr == (
        "error: --category: 'not a category' is not an arXiv category like 'cs.LG'\n"
    )
    bad_email = digest("init", "--email", "nobody", cwd=tmp_path)
    assert bad_email.returncode == 2
    assert bad_email.stderr.startswith("error: subscribers.0.email: value is not a valid email")
    assert list(tmp_path.iterdir()) == []


def check_with(folder: Path, config: str, **env: str) -> tuple[int, list[str]]:
    (folder / "digest.toml").write_text(config, encoding="utf-8")
    result = digest("check", cwd=folder, env=env)
    return result.returncode, result.stderr.splitlines()


def test_check_catches_what_send_would_fail_on(tmp_path: Path) -> None:
    code, errors = check_with(
        tmp_path,
        '[digest]\ntemplates = "my-templates"\nunsubscribe_url = "https://example.org/u"\n'
        '[smtp]\nusername = "digest"\n',
    )
    assert code == 2
    assert errors == [
        "error: smtp.username: 'digest' has no password (set DIGEST_SMTP__PASSWORD)",
        "error: digest.unsubscribe_url: needs a secret to sign its links "
        "(set DIGEST_DIGEST__SECRET)",
        f"error: digest.templates: {tmp_path / 'my-templates'} is not a folder",
    ]
    code, errors = check_with(
        tmp_path,
        '[digest]\nunsubscribe_url = "https://example.org/u"\n[smtp]\nusername = "digest"\n',
        DIGEST_SMTP__PASSWORD="s3cret",
        DIGEST_DIGEST__SECRET="k3y" * 6,
    )
    assert (code, errors) == (0, [])


def test_send_and_schedule_refuse_links_they_cannot_sign(tmp_path: Path) -> None:
    """Without the secret the emails would go out without their one-click unsubscribe,
    votes and online copy, and nobody would be told: both refuse to start, as check says."""
    (tmp_path / "digest.toml").write_text(
        '[digest]\npublic_url = "https://example.org/digest/"\n'
        '[[subscribers]]\nemail = "ada@example.org"\n'
    )
    for command in (["send", "--dry-run"], ["schedule"]):
        result = digest(*command, cwd=tmp_path)
        assert (result.returncode, result.stderr) == (
            2,
            "error: digest.public_url: needs a secret to sign its links "
            "(set DIGEST_DIGEST__SECRET)\n",
        ), command
    assert not (tmp_path / "digest.db").exists()


def test_check_loads_the_dkim_key_and_ca_file_a_send_would_use(tmp_path: Path) -> None:
    """Files that are there but hold no key or no certificate stop a send at its first
    message: check names them."""
    (tmp_path / "dkim.pem").write_text("garbage\n", encoding="utf-8")
    (tmp_path / "ca.pem").write_text("garbage\n", encoding="utf-8")
    code, errors = check_with(
        tmp_path,
        '[dkim]\ndomain = "example.org"\nselector = "s1"\nprivate_key_file = "dkim.pem"\n'
        '[smtp]\nca_file = "ca.pem"\n[[subscribers]]\nemail = "ada@example.org"\n',
    )
    assert code == 2
    assert (
        errors[0] == f"error: dkim.private_key_file: {tmp_path / 'dkim.pem'}: not a PEM private key"
    )
    assert errors[1].startswith(
        f"error: smtp.ca_file: {tmp_path / 'ca.pem'}: not a PEM file of CA certificates ("
    )
    assert len(errors) == 2
    send = digest("send", "--dry-run", cwd=tmp_path)
    assert (send.returncode, send.stderr) == (2, errors[0] + "\n"), "a config error, as in check"


def test_check_loads_the_templates_it_is_given(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "digest.txt").write_text("{% if %}\n", encoding="utf-8")
    code, errors = check_with(tmp_path, '[digest]\ntemplates = "mine"\n')
    assert code == 2
    [error] = errors
    assert error.startswith("error: digest.templates: ") and "Jinja syntax error" in error


def test_a_broken_page_of_digest_serve_is_caught_by_check_and_stops_serve_in_one_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "mine" / "web").mkdir(parents=True)
    (tmp_path / "mine" / "web" / "page.html").write_text("<h1>{{ title }</h1>\n")
    config = '[digest]\ntemplates = "mine"\npublic_url = "http://127.0.0.1:9/"\n'
    secret = {"DIGEST_DIGEST__SECRET": "s3cret-for-the-test"}
    code, errors = check_with(tmp_path, config, **secret)
    assert code == 2
    [error] = errors
    assert error.startswith("error: digest.templates: ") and "page.html:1: Jinja syntax" in error
    (tmp_path / "digest.db").touch()
    served = digest("serve", "--port", "0", cwd=tmp_path, env=secret)
    assert served.returncode == 1
    [line] = served.stderr.splitlines()
    assert "page.html:1: Jinja syntax error" in line


def test_serve_refuses_a_database_that_is_not_there(tmp_path: Path) -> None:
    """A wrong --db or working folder would put the readers' unsubscribes in a new, empty
    database that no send reads."""
    (tmp_path / "digest.toml").write_text('[digest]\npublic_url = "http://127.0.0.1:9/"\n')
    served = digest(
        "serve", "--db", "elsewhere.db", cwd=tmp_path, env={"DIGEST_DIGEST__SECRET": "s" * 16}
    )
    assert (served.returncode, served.stderr) == (
        1,
        "error: sqlite:///elsewhere.db: no such database "
        "(give the --config or --db that digest send uses)\n",
    )
    assert not (tmp_path / "elsewhere.db").exists()


def test_a_main_config_table_in_the_subscribers_file_is_said_to_belong_elsewhere(
    tmp_path: Path,
) -> None:
    (tmp_path / "people.toml").write_text(
        '[[subscribers]]\nemail = "a@example.org"\n[digest]\nmax_papers = 3\n', encoding="utf-8"
    )
    code, errors = check_with(tmp_path, '[digest]\nsubscribers_file = "people.toml"\n')
    assert (code, errors) == (
        2,
        [
            f"error: {tmp_path / 'people.toml'}: digest: belongs in the main config: "
            "a subscribers file holds [[subscribers]] alone"
        ],
    )


def test_an_unreadable_subscribers_file_is_one_line(tmp_path: Path) -> None:
    """Named by its path beside the config; a device is refused, never read forever."""
    code, errors = check_with(tmp_path, '[digest]\nsubscribers_file = "people.toml"\n')
    assert code == 2
    assert errors == [f"error: {tmp_path / 'people.toml'}: cannot read (No such file or directory)"]
    code, errors = check_with(tmp_path, '[digest]\nsubscribers_file = "/dev/zero"\n')
    assert (code, errors) == (2, ["error: /dev/zero: not a regular file"])


def test_a_misspelt_key_gets_the_nearest_valid_one(tmp_path: Path) -> None:
    code, errors = check_with(
        tmp_path,
        '[digest]\nmax_paper = 3\n[smpt]\nhost = "x"\n'
        '[[subscribers]]\nemail = "ada@example.org"\nintrests = ["graphs"]\nfoo = 1\n',
    )
    assert code == 2
    assert sorted(errors) == [
        "error: digest.max_paper: unknown setting (did you mean `max_papers`?)",
        "error: smpt: unknown setting (did you mean `smtp`?)",
        "error: subscribers.0.foo: unknown setting",
        "error: subscribers.0.intrests: unknown setting (did you mean `interests`?)",
    ]


def test_check_summarizes_many_subscribers_in_a_few_lines(tmp_path: Path) -> None:
    people = "".join(
        f'[[subscribers]]\nemail = "reader{n}@example.org"\n'
        + ('interests = ["graphs"]\n' if n % 2 else "")
        + ('timezone = "Europe/Paris"\n' if n % 10 == 0 else "")
        for n in range(1000)
    )
    (tmp_path / "digest.toml").write_text(people, encoding="utf-8")
    result = digest("check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-3:] == [
        "subscribers: 1000 (500 with interests, 500 everything trending)",
        "  900 at daily 07:00 UTC",
        "  100 at daily 07:00 Europe/Paris",
    ]
    assert "reader1@example.org" not in result.stdout


def test_an_unknown_subscriber_is_named_and_nobody_else(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text(
        '[[subscribers]]\nemail = "ada@example.org"\n', encoding="utf-8"
    )
    result = digest("render", "--subscriber", "bob@example.org", cwd=tmp_path)
    assert result.returncode == 2
    assert "'bob@example.org'" in result.stderr and "ada@" not in result.stderr


def test_a_fresh_database_says_to_collect_first_and_records_nothing(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text(
        '[[subscribers]]\nemail = "ada@example.org"\ninterests = ["graphs"]\n', encoding="utf-8"
    )
    for command in (["render"], ["rank", "--interests", "graphs"], ["send", "--outbox", "o"]):
        result = digest(*command, cwd=tmp_path)
        assert result.returncode == 1, command
        assert result.stderr == (
            f"error: sqlite:///{tmp_path / 'digest.db'} holds no papers yet "
            "(run `digest collect` first)\n"
        ), command
    assert not (tmp_path / "o").exists()
    send = digest("send", "--dry-run", "--json", cwd=tmp_path)
    assert send.returncode == 1 and "run `digest collect` first" in send.stderr
    status = digest("status", cwd=tmp_path)
    assert (status.returncode, status.stderr) == (
        1,
        "error: the ledger holds no edition yet (run `digest send`)\n",
    )
    as_json = digest("status", "--json", cwd=tmp_path)
    assert as_json.returncode == 1, "with --json, stdout still holds one JSON object"
    assert json.loads(as_json.stdout) == {
        "error": "the ledger holds no edition yet (run `digest send`)",
        "errors": ["the ledger holds no edition yet (run `digest send`)"],
    }
    listed = digest("subscribers", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0 and "ada@example.org" in listed.stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == ["digest.toml"], "only looked"


def test_check_names_the_sender_and_says_when_no_mail_can_come_from_it(
    tmp_path: Path,
) -> None:
    """Without a sender every message goes out From digest@localhost (its Message-ID and
    mailto unsubscribe link too), and `digest init` writes a reserved example domain:
    receivers refuse both, and nobody can sign for them. Check says so."""
    unset = "[[subscribers]]\nemail = 'ada@example.net'\n"
    for config, domain in (
        (unset, "localhost"),
        ("[digest]\nsender = 'Paper Digest <digest@example.org>'\n" + unset, "example.org"),
        ("[digest]\nsender = 'News <news@lab.test>'\n" + unset, "lab.test"),
    ):
        (tmp_path / "digest.toml").write_text(config, encoding="utf-8")
        result = digest("check", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        line = next(line for line in result.stdout.splitlines() if line.startswith("sender: "))
        assert f"@{domain}> (NO MAIL CAN COME FROM {domain}: set digest.sender" in line, line
    (tmp_path / "digest.toml").write_text(
        "[digest]\nsender = 'Paper Digest <digest@papers.ac.uk>'\n" + unset, encoding="utf-8"
    )
    result = digest("check", cwd=tmp_path)
    assert "sender: Paper Digest <digest@papers.ac.uk>\n" in result.stdout
