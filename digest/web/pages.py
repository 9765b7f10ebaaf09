"""The pages `digest serve` shows: one template, filled with a title, some lines and at
most one form (a button that posts, so no link scanner acts by visiting a page)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from digest.errors import DigestError
from digest.resources import builtin_templates
from digest.text import fold_whitespace

log = logging.getLogger(__name__)

PAGE = "web/page.html"


@dataclass(frozen=True, slots=True)
class Form:
    """A form with one button, posting hidden fields to `action`; `auto` submits it as
    the page loads (for a vote: the reader clicked already, a scanner runs no script)."""

    action: str
    button: str
    fields: tuple[tuple[str, str], ...] = ()
    auto: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    """What one answer says."""

    title: str
    lines: tuple[str, ...] = ()
    form: Form | None = None
    status: int = 200


class PageRenderer:
    """Fills the page template: the configured templates folder's copy, else the built-in."""

    def __init__(self, list_name: str, folders: Sequence[Path] = ()) -> None:
        self.list_name = list_name
        # Loaded now, so a broken template stops `digest serve` at its start, not a visitor.
        self._template = _page_template([*folders, builtin_templates()])
        self._builtin = _page_template([builtin_templates()])
        if folders:  # what a visitor gets must render: the unsubscribe page above all
            self._render(self._template, Page("Checked", ("a line",), Form("/", "OK")), "n")

    def html(self, page: Page, *, nonce: str) -> str:
        try:
            return self._render(self._template, page, nonce)
        except DigestError as error:
            # A reader who came to unsubscribe still can: the built-in page stands in.
            log.error("%s", error)
            return self._render(self._builtin, page, nonce)

    def _render(self, template: jinja2.Template, page: Page, nonce: str) -> str:
        try:
            return template.render(
                title=page.title,
                lines=page.lines,
                form=page.form,
                list_name=self.list_name,
                nonce=nonce,
            )
        except jinja2.TemplateError as error:
            raise DigestError(f"{template.filename}: {fold_whitespace(str(error))}") from error


def _page_template(folders: Sequence[Path]) -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders), autoescape=True, undefined=jinja2.StrictUndefined
    )
    try:
        return environment.get_template(PAGE)
    except jinja2.TemplateSyntaxError as error:
        where = f"{error.filename or PAGE}:{error.lineno}"
        cause = fold_whitespace(error.message or "")
        raise DigestError(f"{where}: Jinja syntax error: {cause}") from error
    except jinja2.TemplateError as error:
        raise DigestError(f"{PAGE}: {fold_whitespace(str(error))}") from error
