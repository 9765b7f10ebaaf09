"""Preflight: what `send` would fail on later, found before anything is sent."""

from __future__ import annotations

from digest.config import Settings, problems
from digest.errors import DigestError


def preflight(settings: Settings) -> list[str]:
    """Every problem of a valid config that would stop a send, one `field: cause` each:
    missing secrets, missing files, templates that do not load."""
    found = problems(settings)
    templates = settings.digest.templates
    if templates is not None and templates.is_dir():
        from digest.mail.render import Renderer  # MJML only when there is a folder to check

        try:
            Renderer.load(templates)
        except DigestError as error:
            found.append(f"digest.templates: {error}")
    return found
