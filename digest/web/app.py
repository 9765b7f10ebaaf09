"""The site behind the links in every email: unsubscribe, resubscribe, vote, read online.

Every page acts only on what its token grants (one purpose, one address, one paper or
edition), and only on a POST: mail scanners follow links in emails, so a GET shows a
page with a button and changes nothing. The exception RFC 8058 defines is itself a
POST: a mail client's one-click `List-Unsubscribe=One-Click` to the header's URL
unsubscribes at once. Vote pages submit themselves with a script, which scanners do not
run. Answers are never cached, framed or sent on as a referrer (the URL holds a token).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.config import Settings
from digest.errors import StoreError
from digest.links import VOTES, paths, resubscribe_path
from digest.mail.display import clean
from digest.state.audience import UNSUBSCRIBED
from digest.state.store import Store
from digest.state.votes import LESS, MORE
from digest.tokens import Grant, Purpose, verify
from digest.web.pages import Form, Page, PageRenderer

log = logging.getLogger(__name__)

ONE_CLICK = ("List-Unsubscribe", "One-Click")
# Far more than any form of these pages sends.
MAX_FORM_BYTES = 16 * 1024
# Our own button sends this too, so the record says which way the reader left.
FROM_PAGE = ("via", "page")
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


_HTTP_TITLES = {404: "There is no such page", 405: "Nothing was changed"}
_NOT_VALID = Page(
    "This link is not valid",
    ("It may have been cut short, or the list has changed its keys.",),
    status=403,
)
# What a vote asks for, in words: "more papers like", "fewer papers like".
AMOUNT = {"more": "more", "less": "fewer"}


class _Refused(Exception):
    """A request the site answers with an error page: a bad token, a missing field."""

    def __init__(self, page: Page) -> None:
        self.page = page


class Site:
    """The pages of one list, over one store."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.store = store
        self.now = now
        self.secrets = settings.digest.secrets()
        name, address = parseaddr(settings.digest.sender)
        self.list_name = name or address
        templates = settings.digest.templates
        self.pages = PageRenderer(self.list_name, [templates] if templates else [])

    def app(self) -> Starlette:
        where = paths(self.settings.digest)
        routes = [
            Route(where.unsubscribe, self.unsubscribe, methods=["GET", "POST"]),
            Route(where.resubscribe, self.resubscribe, methods=["GET", "POST"]),
            Route(where.vote, self.vote, methods=["GET", "POST"]),
            Route(where.online, self.online, methods=["GET"]),
        ]
        handlers = {
            _Refused: self._refused,
            StoreError: self._store_failed,
            HTTPException: self._http_error,
        }
        return Starlette(routes=routes, exception_handlers=handlers)

    # --- the pages ------------------------------------------------------------------------

    async def unsubscribe(self, request: Request) -> Response:
        grant = self._grant(request, Purpose.UNSUBSCRIBE)
        if request.method == "POST":
            form = await _form(request)
            if form.get(ONE_CLICK[0]) != ONE_CLICK[1]:
                raise _Refused(
                    Page(
                        "Nothing was changed",
                        ("An unsubscribe request must say List-Unsubscribe=One-Click.",),
                        status=400,
                    )
                )
            how = "web page" if form.get(FROM_PAGE[0]) == FROM_PAGE[1] else "one-click"
            await run_in_threadpool(
                self.store.audience.unsubscribe, grant.email, how=how, now=self.now()
            )
            log.info("unsubscribed %s (%s)", grant.email, how)
            return self._unsubscribed(grant.email)
        standing = await run_in_threadpool(self.store.audience.standing, grant.email)
        if standing is not None and standing.status == UNSUBSCRIBED:
            return self._unsubscribed(grant.email)
        return self._page(
            Page(
                f"Unsubscribe from {self.list_name}?",
                (f"{grant.email} will get no more emails from this list.",),
                Form(_here(request), "Unsubscribe", (ONE_CLICK, FROM_PAGE)),
            )
        )

    async def resubscribe(self, request: Request) -> Response:
        grant = self._grant(request, Purpose.RESUBSCRIBE)
        if request.method != "POST":  # GET or HEAD: a link checker's visit changes nothing
            return self._page(
                Page(
                    f"Subscribe to {self.list_name} again?",
                    (f"{grant.email} will get its emails again.",),
                    Form(_here(request), "Subscribe again"),
                )
            )
        await run_in_threadpool(
            self.store.audience.resubscribe, grant.email, how="web page", now=self.now()
        )
        log.info("resubscribed %s", grant.email)
        return self._page(
            Page("You are subscribed again", (f"{grant.email} will get the next edition.",))
        )

    async def vote(self, request: Request) -> Response:
        grant = self._grant(request, Purpose.VOTE)
        if request.method != "POST":  # GET or HEAD
            vote = request.query_params.get("vote", "")
        else:
            vote = str((await _form(request)).get("vote", ""))
        if vote not in VOTES:
            raise _Refused(
                Page("Nothing was recorded", ("This vote is not one we know.",), status=400)
            )
        paper = await run_in_threadpool(self.store.papers.find, grant.subject)
        # Cleaned as the email shows it: no invisible or direction-override characters.
        # Isolated (U+2068 ... U+2069), so that a right-to-left title does not carry the
        # sentence's colon and words to its side.
        title = f"“\u2068{clean(paper.title)}\u2069”" if paper else "this paper"
        if request.method != "POST":
            return self._page(
                Page(
                    "Recording your vote…",
                    (f"{vote.capitalize()} like {title}.",),
                    Form(
                        _here(request),
                        f"{vote.capitalize()} like this",
                        (("vote", vote),),
                        auto=True,
                    ),
                )
            )
        await run_in_threadpool(
            self.store.votes.record,
            grant.email,
            grant.subject,
            MORE if vote == "more" else LESS,
            now=self.now(),
        )
        return self._page(
            Page(
                "Thank you",
                (f"Your next editions will have {AMOUNT[vote]} papers like {title}.",),
            )
        )

    async def online(self, request: Request) -> Response:
        grant = self._grant(request, Purpose.ONLINE)
        try:
            edition = date.fromisoformat(grant.subject)
        except ValueError:
            raise _Refused(_NOT_VALID) from None
        found = await run_in_threadpool(self.store.archive.find, grant.email, edition)
        days = self.settings.digest.archive_days
        if found is not None and found.archived_at < self.now() - timedelta(days=days):
            found = None  # kept a while longer by a reader who gets no newer edition
        if found is None:
            raise _Refused(
                Page(
                    "This edition is not online",
                    (f"Online copies are kept for {days} days after the edition is sent.",),
                    status=404,
                )
            )
        # The email's own HTML: inline styles, links out, no scripts of any kind.
        policy = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:"
        return HTMLResponse(found.html, headers=_HEADERS | {"Content-Security-Policy": policy})

    # --- helpers --------------------------------------------------------------------------

    def _grant(self, request: Request, purpose: Purpose) -> Grant:
        token = request.query_params.get("token")
        if not token:
            raise _Refused(
                Page(
                    "This link is incomplete", ("Open the link from the email again.",), status=400
                )
            )
        grant = verify(token, purpose, self.secrets)
        if grant is None:
            raise _Refused(_NOT_VALID)
        return grant

    def _unsubscribed(self, email: str) -> Response:
        action = resubscribe_path(self.settings.digest, email)
        return self._page(
            Page(
                "You are unsubscribed",
                (f"{email} will get no more emails from {self.list_name}.",),
                Form(action, "Subscribe again") if action else None,
            )
        )

    def _page(self, page: Page) -> Response:
        nonce = secrets.token_urlsafe(16)
        policy = (
            "default-src 'none'; style-src 'unsafe-inline'; "
            f"script-src 'nonce-{nonce}'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'"
        )
        return HTMLResponse(
            self.pages.html(page, nonce=nonce),
            status_code=page.status,
            headers=_HEADERS | {"Content-Security-Policy": policy},
        )

    async def _refused(self, _request: Request, error: Exception) -> Response:
        assert isinstance(error, _Refused)
        return self._page(error.page)

    async def _http_error(self, _request: Request, error: Exception) -> Response:
        """Starlette's own refusals (no such page, a method not allowed, a form it cannot
        parse) on a page of the site, with its headers, instead of bare text."""
        assert isinstance(error, HTTPException)
        page = self._page(
            Page(
                _HTTP_TITLES.get(error.status_code, "Nothing was changed"),
                (str(error.detail),),
                status=error.status_code,
            )
        )
        if error.headers:  # a 405's Allow
            page.headers.update(error.headers)
        return page

    async def _store_failed(self, _request: Request, error: Exception) -> Response:
        log.error("%s", error)
        return self._page(
            Page("Please try again later", ("The list could not be reached.",), status=503)
        )


def _here(request: Request) -> str:
    """The request's own path and query: where its form posts back to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def _form(request: Request) -> FormData:
    # A one-click POST carries one field; a larger body is nobody's unsubscribe.
    declared = request.headers.get("content-length")
    if declared is None:  # a chunked body could be endless; browsers and mail clients say
        raise _Refused(Page("Nothing was changed", ("Say the body's length.",), status=411))
    if not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
        raise _Refused(Page("Nothing was changed", ("This request is too large.",), status=413))
    try:
        return await request.form(max_files=0, max_fields=10, max_part_size=4096)
    except ClientDisconnect:  # gone before its body arrived: nobody reads the answer
        cut_short = Page("Nothing was changed", ("The request was cut short.",), status=400)
        raise _Refused(cut_short) from None


def create_app(settings: Settings, store: Store, **options: Any) -> Starlette:
    """The ASGI app of `digest serve` for this config and store."""
    return Site(settings, store, **options).app()
