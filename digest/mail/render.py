"""Editions rendered into emails: subject, preheader, HTML and plain text.

The HTML comes from an MJML layout (`digest.mjml`) compiled to HTML once, when the
templates load, and then filled by Jinja for each email (`mjml_template` gives the layout
before compiling, to compare with compiling per email); the plain text has a template of
its own (`digest.txt`). A template folder given to `Renderer.load` overrides the
built-in `templates/` file by file. Both templates see the same context:

    subject, preheader   the email's header lines (str)
    edition_date         "Saturday, 21 November 2026"
    name                 the subscriber's name, or None (then no greeting)
    interests            the subscriber's interest phrases (tuple, () = everything trending)
    online_url           where the email can be read in a browser, or None
    cards                the papers shown, best first (a tuple of `digest.mail.cards.Card`)
    contents             whether a table of contents goes first (not once the excerpts
                         are cut away to fit the budget: the cards are then a list of
                         titles themselves)
    total                how many papers the edition picked
    dropped              how many of them were left out for size
    footer               the `Footer`, cleaned

and two filters: `{{ text|wrap(indent="    ") }}` fits 72 columns (for the text part),
`{{ text|cut(60) }}` cuts at a word with "…".
Every value is clean text; the HTML template escapes it (autoescaping), the text
template prints it as it is. An undefined name is an error in both.
"""

from __future__ import annotations

import binascii
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
from mjml import mjml2html

from digest.errors import DigestError
from digest.mail import display
from digest.mail.cards import EXCERPT_STEPS, Card, Link, Votes, card_of, with_excerpt
from digest.mail.envelope import Footer
from digest.models import ScoredPaper
from digest.resources import builtin_templates
from digest.text import fold_whitespace, plural

__all__ = ["Card", "Digest", "Link", "RenderedEmail", "Renderer", "Votes"]

log = logging.getLogger(__name__)

BUILTIN_TEMPLATES = builtin_templates()
HTML_TEMPLATE = "digest.mjml"
TEXT_TEMPLATE = "digest.txt"
# Gmail clips a message past about 102 KB (counted as sent: quoted-printable, headers and
# all; 102,000 bytes taken as the safe reading). The budget is for the two parts as they
# are encoded; the rest is left for the headers, a DKIM signature and the MIME framing.
GMAIL_CLIP = 102_000
HEADER_ROOM = 4 * 1024
MESSAGE_BUDGET = GMAIL_CLIP - HEADER_ROOM
SUBJECT_LIMIT = 120
PREHEADER_LIMIT = 150
# The interests an email names, and the characters of each (`_interests`).
SHOWN_INTERESTS = 12
INTEREST_LIMIT = 80
_INCLUDE = re.compile(r"""<mj-include\s+path\s*=\s*(["'])([^"']+)\1\s*/>""")
_MJML_BODY = re.compile(r"^\s*<mjml>\s*<mj-body>(.*)</mj-body>\s*</mjml>\s*$", re.DOTALL)
_MAX_INCLUDE_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Digest:
    """One subscriber's digest for one day, ready to render.

    `online_url` is where the same email can be read in a browser ("View in browser",
    in both parts). `votes` gives each paper's "More like this" and "Less like this"
    links: a mapping from the paper's canonical id (`Candidate.id`) to the pair of URLs,
    or a function of that id giving the pair or None; a paper without a pair has none.
    Only http(s) URLs are shown.
    """

    edition: date
    recipient_name: str | None
    recipient_email: str | None
    interests: tuple[str, ...]
    picks: tuple[ScoredPaper, ...]
    online_url: str | None = None
    votes: Votes | None = None


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """One email's parts. `paper_ids` are the papers actually in it, after the size
    budget; `dropped` counts those left out ("…and N more papers")."""

    subject: str
    preheader: str
    html: str
    text: str
    paper_ids: tuple[str, ...]
    dropped: int


class Renderer:
    """The compiled templates: MJML compiled to HTML once, filled by Jinja per email."""

    def __init__(
        self,
        html: jinja2.Template,
        text: jinja2.Template,
        *,
        names: tuple[str, str] = (HTML_TEMPLATE, TEXT_TEMPLATE),
        budget: int = MESSAGE_BUDGET,
    ) -> None:
        self._html = html
        self._text = text
        self._names = names
        self.budget = budget

    @classmethod
    def load(cls, folder: Path | None = None, *, budget: int = MESSAGE_BUDGET) -> Renderer:
        """Compile the templates of `folder`, each file falling back to the built-in
        one; None is the built-ins alone. `budget` caps the bytes of the two parts as
        sent (`encoded_size`). Raises DigestError naming the file at fault."""
        folders = _folders(folder)
        html_path = _find(folders, HTML_TEMPLATE)
        html = _compile_html(html_path, folders)
        text_path = _find(folders, TEXT_TEMPLATE)
        text = _text_template(text_path, folders)
        return cls(html, text, names=(str(html_path), str(text_path)), budget=budget)

    def render(self, digest: Digest, footer: Footer) -> RenderedEmail:
        """The email of one edition, its two parts as sent kept under the size budget."""
        cards = cards_of(digest)
        context = template_context(digest, footer, cards)
        html, text, shown, limit = self._fit(context, cards)
        dropped = len(cards) - len(shown)
        if limit != EXCERPT_STEPS[0]:
            log.info(
                "%s %s: excerpts cut to %d characters and %d of %d papers left out to keep "
                "the email under %d bytes",
                digest.recipient_email or "-",
                digest.edition.isoformat(),
                limit,
                dropped,
                len(cards),
                self.budget,
            )
        return RenderedEmail(
            subject=context["subject"],
            preheader=context["preheader"],
            html=html,
            text=text,
            paper_ids=tuple(card.id for card in shown),
            dropped=dropped,
        )

    def _fit(
        self, context: dict[str, Any], cards: tuple[Card, ...]
    ) -> tuple[str, str, tuple[Card, ...], int]:
        """Both parts within budget: excerpts shortened step by step, then the fewest
        papers dropped from the end (found by bisection), each fill measured as sent."""
        for limit in EXCERPT_STEPS:
            shown = tuple(with_excerpt(card, limit) for card in cards)
            if not limit:  # cards without excerpts are a list of titles: no contents
                context = {**context, "contents": False}
            parts = self._parts(context, shown, 0)
            if self._fits(*parts):
                return *parts, shown, limit
        fitting, low, high = self._parts(context, (), len(cards)), 0, len(cards) - 1
        while low < high:
            middle = (low + high + 1) // 2
            parts = self._parts(context, shown[:middle], len(cards) - middle)
            if self._fits(*parts):
                fitting, low = parts, middle
            else:
                high = middle - 1
        return *fitting, shown[:low], EXCERPT_STEPS[-1]

    def _parts(
        self, context: dict[str, Any], cards: Sequence[Card], dropped: int
    ) -> tuple[str, str]:
        return (
            self.fill_html(context, cards, dropped),
            self.fill_text(context, cards, dropped),
        )

    def _fits(self, html: str, text: str) -> bool:
        # Encoding costs about as much as filling the template: only when the cheap upper
        # bound leaves room for doubt (a long or mostly non-Latin edition).
        if _encoded_size_bound(html) + _encoded_size_bound(text) <= self.budget:
            return True
        return encoded_size(html) + encoded_size(text) <= self.budget

    def fill_html(self, context: dict[str, Any], cards: Sequence[Card], dropped: int = 0) -> str:
        """The compiled HTML template filled with `context` (`template_context`), these cards
        and the count of papers `dropped`, with no size budget. `render` fills through this
        method and `fill_text`, once for each size it tries, so a subclass may wrap them
        (the render benchmark times them so)."""
        return self._fill(self._html, 0, context, cards, dropped)

    def fill_text(self, context: dict[str, Any], cards: Sequence[Card], dropped: int = 0) -> str:
        """The plain-text template filled as `fill_html` fills the HTML one."""
        return self._fill(self._text, 1, context, cards, dropped)

    def _fill(
        self,
        template: jinja2.Template,
        which: int,
        context: dict[str, Any],
        cards: Sequence[Card],
        dropped: int,
    ) -> str:
        try:
            return template.render(context, cards=tuple(cards), dropped=dropped)
        except jinja2.TemplateError as error:
            raise DigestError(f"{self._names[which]}: {fold_whitespace(str(error))}") from error


def encoded_size(part: str) -> int:
    """The bytes of `part` as a message carries it: UTF-8, quoted-printable (MJML's HTML
    grows 3-10%: every "=" of its attributes becomes "=3D", every non-ASCII byte three
    bytes, every line past 76 characters a soft break), lines ending in CRLF."""
    wire = part.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    return len(binascii.b2a_qp(wire, quotetabs=False, istext=True, header=False))


def _encoded_size_bound(part: str) -> int:
    """At least `encoded_size(part)`, from counts alone. Quoted-printable writes three
    bytes for each byte past ASCII and each "=", may write three for one space, tab or
    dot per line, adds a CR to each line and breaks a line (3 bytes) before 76 columns."""
    size = len(part.encode("utf-8"))
    # A character of n > 1 UTF-8 bytes adds n - 1 to `size - len(part)`, and n <= 2(n - 1).
    non_ascii = 2 * (size - len(part))
    lines = part.count("\n") + 1
    escaped = size + 2 * (non_ascii + part.count("=") + lines)
    return escaped + lines + 3 * (escaped // 70 + lines)


# --- what the templates show -------------------------------------------------------------


def cards_of(digest: Digest) -> tuple[Card, ...]:
    """The edition's picks as cards, numbered from 1, with full excerpts and the
    reader's votes."""
    return tuple(
        card_of(number, pick, digest.edition, digest.votes)
        for number, pick in enumerate(digest.picks, 1)
    )


def template_context(digest: Digest, footer: Footer, cards: Sequence[Card]) -> dict[str, Any]:
    """What both templates see besides `cards` and `dropped` (the module docstring lists it)."""
    return {
        "subject": subject(digest, footer, cards),
        "preheader": preheader(digest, cards),
        "edition_date": display.long_date(digest.edition),
        "name": display.clean(digest.recipient_name) or None,
        "interests": _interests(digest),
        "online_url": display.safe_url(digest.online_url),
        "contents": True,
        "total": len(cards),
        "footer": _clean_footer(footer),
    }


def subject(digest: Digest, footer: Footer, cards: Sequence[Card]) -> str:
    """'Paper Digest, 21 Nov: 10 papers — <top title>', one header-safe line of at most
    120 characters."""
    head = f"{display.clean(footer.sender_name)}, {display.short_date(digest.edition)}: "
    if not cards:
        nothing = (
            "nothing new matched your interests today"
            if _interests(digest)
            else "no new trending papers today"
        )
        return display.cut(head + nothing, SUBJECT_LIMIT)
    count = plural(len(cards), "paper")
    return display.cut(f"{head}{count} — {cards[0].title}", SUBJECT_LIMIT)


def preheader(digest: Digest, cards: Sequence[Card]) -> str:
    """The line an inbox shows after the subject: the next titles, else why the one
    paper was picked, else what an empty edition waits for."""
    interests = _interests(digest)
    if len(cards) > 1:
        text = "Also: " + "; ".join(card.title for card in cards[1:6])
    elif cards:
        text = "Picked for you: " + ("; ".join(cards[0].reasons) or "today's top paper")
    elif interests:
        text = f"We'll write again when new papers match your interests: {', '.join(interests)}."
    else:
        text = "We'll write again when new papers come out."
    return display.cut(text, PREHEADER_LIMIT)


def _interests(digest: Digest) -> tuple[str, ...]:
    """The interests the email names: the first `SHOWN_INTERESTS`, each at most
    `INTEREST_LIMIT` characters, then how many more. A reader may follow hundreds, and
    the footer must never crowd the papers out of the size limit."""
    named = tuple(filter(None, map(display.clean, digest.interests)))
    shown = tuple(display.cut(interest, INTEREST_LIMIT) for interest in named[:SHOWN_INTERESTS])
    if len(named) > SHOWN_INTERESTS:
        return (*shown, f"and {len(named) - SHOWN_INTERESTS} more")
    return shown


def _clean_footer(footer: Footer) -> Footer:
    unsubscribe = display.safe_url(footer.unsubscribe_url, ("https", "http", "mailto"))
    if unsubscribe is None:
        raise DigestError(
            f"unsubscribe URL {footer.unsubscribe_url!r} is not an https or mailto URL",
            "set an https URL with the subscriber's token, or a mailto: address",
        )
    return Footer(
        sender_name=display.clean(footer.sender_name),
        contact=display.clean(footer.contact),
        manage_url=display.safe_url(footer.manage_url),
        unsubscribe_url=unsubscribe,
    )


# --- loading the templates ---------------------------------------------------------------


def _environment(*, autoescape: bool, folders: Sequence[Path] = ()) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders) if folders else None,
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["wrap"] = display.wrap
    environment.filters["cut"] = display.cut
    return environment


def _folders(folder: Path | None) -> tuple[Path, ...]:
    if folder is None:
        return (BUILTIN_TEMPLATES,)
    if not folder.is_dir():
        raise DigestError(f"template folder {folder} does not exist")
    return (folder, BUILTIN_TEMPLATES)


def _find(folders: Sequence[Path], name: str, included_from: Path | None = None) -> Path:
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise DigestError(f"{included_from}: template {name!r} must be a name inside the folder")
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    where = ", ".join(str(folder) for folder in folders)
    cause = f"{included_from}: includes" if included_from else "template"
    hint = None
    if not BUILTIN_TEMPLATES.is_dir():
        hint = "the package is installed without its templates: reinstall paper-digest"
    raise DigestError(f"{cause} {name} not found in {where}", hint)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DigestError(f"{path}: cannot be read ({fold_whitespace(str(error))})") from error


def _compile_html(path: Path, folders: Sequence[Path]) -> jinja2.Template:
    """The layout with its partials spliced in, compiled by MJML once, as a Jinja
    template. Jinja syntax is checked file by file first, so errors name the right line."""
    environment = _environment(autoescape=True)
    source = _mjml(path, folders, environment)
    try:
        # fonts={}: no web font. MRML otherwise links Google Fonts for the stack's Roboto,
        # and every open of the email would call Google.
        compiled = mjml2html(source, fonts={})
    except Exception as error:  # MRML raises ValueError, but any failure means the same
        raise DigestError(
            f"{path}: MJML does not compile: {fold_whitespace(str(error))}"
        ) from error
    try:
        return environment.from_string(compiled)
    except jinja2.TemplateSyntaxError as error:
        cause = fold_whitespace(error.message or "")
        raise DigestError(
            f"{path}: the compiled HTML is no longer a valid Jinja template ({cause}); "
            "keep Jinja tags in text and attribute values"
        ) from error


def mjml_template(folder: Path | None = None) -> jinja2.Template:
    """The HTML layout before it is compiled: its MJML with the includes spliced in, as a
    Jinja template of the environment the compiled one has. Filled as `Renderer.fill_html`
    fills that one and then given to `mjml2html`, it makes the email that compiling MJML
    per email would; the product compiles once, in `Renderer.load`, and this is for
    comparing the two. `folder` and errors as in `Renderer.load`."""
    folders = _folders(folder)
    environment = _environment(autoescape=True)
    return environment.from_string(_mjml(_find(folders, HTML_TEMPLATE), folders, environment))


def _mjml(path: Path, folders: Sequence[Path], environment: jinja2.Environment) -> str:
    """The MJML of the layout at `path`, its includes spliced in, Jinja tags as written."""
    source = _splice(path, folders, environment, 0)
    if "<mj-include" in source:
        raise DigestError(f'{path}: unsupported mj-include; write <mj-include path="file.mjml" />')
    return source


def _splice(
    path: Path, folders: Sequence[Path], environment: jinja2.Environment, depth: int
) -> str:
    """The MJML of `path` with every `<mj-include path="…" />` replaced by that file's
    MJML. MRML's own include loader renders an included section without its parent's
    context (no 600px width, no default padding), so includes are resolved here."""
    if depth > _MAX_INCLUDE_DEPTH:
        raise DigestError(f"{path}: includes nest deeper than {_MAX_INCLUDE_DEPTH} levels")
    source = _read(path)
    _check_jinja(environment, source, path)

    def include(match: re.Match[str]) -> str:
        part = _find(folders, match.group(2), included_from=path)
        inner = _splice(part, folders, environment, depth + 1)
        body = _MJML_BODY.match(inner)
        return body.group(1) if body else inner

    return _INCLUDE.sub(include, source)


def _check_jinja(environment: jinja2.Environment, source: str, path: Path) -> None:
    try:
        environment.parse(source)
    except jinja2.TemplateSyntaxError as error:
        raise DigestError(
            f"{path}:{error.lineno}: Jinja syntax error: {fold_whitespace(error.message or '')}"
        ) from error


def _text_template(path: Path, folders: Sequence[Path]) -> jinja2.Template:
    environment = _environment(autoescape=False, folders=[path.parent, *folders])
    try:
        return environment.get_template(path.name)
    except jinja2.TemplateSyntaxError as error:
        raise DigestError(
            f"{error.filename or path}:{error.lineno}: Jinja syntax error: "
            f"{fold_whitespace(error.message or '')}"
        ) from error
    except jinja2.TemplateNotFound as error:
        raise DigestError(f"{path}: includes {error.name}, which is not found") from error
