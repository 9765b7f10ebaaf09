"""The pages `digest serve` shows: one template, filled with a title, some lines and at
most one form (a button that posts, so no link scanner acts by visiting a page)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from digest.resources import builtin_templates

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
        loader = jinja2.FileSystemLoader([*folders, builtin_templates()])
        environment = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined
        )
        # Loaded now, so a broken template stops `digest serve` at its start, not a visitor.
        self._template = environment.get_template(PAGE)

    def html(self, page: Page, *, nonce: str) -> str:
        return self._template.render(
            title=page.title,
            lines=page.lines,
            form=page.form,
            list_name=self.list_name,
            nonce=nonce,
        )
