"""Preflight: what `send` would fail on later, found before anything is sent."""

from __future__ import annotations

from digest.config import Settings, problems
from digest.errors import DigestError


def preflight(settings: Settings) -> list[str]:
    """Every problem of a valid config that would stop a send, one `field: cause` each:
    missing secrets, missing files, templates or a sentence encoder that do not load."""
    found = problems(settings)
    templates = settings.digest.templates
    if templates is not None and templates.is_dir():
        from digest.mail.render import Renderer  # MJML only when there is a folder to check
        from digest.web.pages import PageRenderer  # the pages of `digest serve`

        try:
            Renderer.load(templates)
        except DigestError as error:
            found.append(f"digest.templates: {error}")
        try:
            PageRenderer("", [templates])
        except DigestError as error:
            found.append(f"digest.templates: {error}")
    found += _encoder_problems(settings.digest.semantic_model)
    found += _key_problems(settings)
    return found


def _key_problems(settings: Settings) -> list[str]:
    """A DKIM key or a CA file that is there but does not load (a missing one is in
    `problems` already): the send would stop at its first message."""
    from digest.mail.signing import signer_for
    from digest.mail.transport import tls_context

    found = []
    if settings.dkim is not None and settings.dkim.private_key_file.is_file():
        try:
            signer_for(settings)
        except DigestError as error:
            found.append(str(error))
    if settings.smtp.ca_file is not None and settings.smtp.ca_file.is_file():
        try:
            tls_context(settings.smtp)
        except DigestError as error:
            found.append(str(error))
    return found


def _encoder_problems(setting: str | tuple[str, ...]) -> list[str]:
    """Each model that does not load: a send would fail on a named one, and rank without
    (with a warning) the one "auto" found."""
    from digest.rank.encoder import ModelError, model_entries, setting_encoder

    found = []
    for entry in model_entries(setting):
        try:
            setting_encoder(entry)
        except ModelError as error:
            found.append(f"digest.semantic_model: {error}")
    return found
