"""Web: `digest serve`, the small site behind the links in every email.

`app` answers one-click unsubscribes (RFC 8058), resubscribes, votes and the online
copies of editions, each behind a signed token (see `digest.tokens`); `pages` fills the
one page template every answer uses. Starlette and uvicorn are imported here only.
"""
