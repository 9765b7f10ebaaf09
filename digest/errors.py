"""One exception hierarchy: every message names the input and the cause."""

from __future__ import annotations


class DigestError(Exception):
    """An error the user can act on; the CLI prints it as one line, no traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(DigestError):
    """The configuration cannot be used; `lines` holds one `path.to.field: message` each."""

    exit_code = 2

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class NotConfigured(DigestError):
    """A valid config that lacks what the command needs (no subscriber, no source, no
    secret): the config stops it, exit 2 as for a config error, nothing done."""

    exit_code = 2


class SourceError(DigestError):
    """One source could not be read at all; other sources still go through."""


class StoreError(DigestError):
    """The state database cannot be opened or written."""


class ForeignDatabaseError(StoreError):
    """The database is not one this program can use: another program's, or a newer
    schema. A setting points at the wrong file, so it is a usage error like a bad config."""

    exit_code = 2
