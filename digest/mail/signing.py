"""DKIM signatures (dkimpy): the receiving server checks that the message comes from the
domain in From, unchanged. Alignment with SPF and DMARC is the operator's DNS work (see
the README); this signs what goes on the wire."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import dkim

from digest.config import Settings
from digest.errors import ConfigError, DigestError
from digest.mail.message import WireMessage

# What a receiver must find unchanged; List-Unsubscribe too, so that nobody on the way
# can swap the unsubscribe link (Gmail asks for it to be signed), and Feedback-ID, which
# Gmail's feedback loop counts only when a signature of the sender's domain covers it.
SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"Feedback-ID",
    b"List-Id",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"MIME-Version",
    b"Content-Type",
)
# Signed once more than they occur (RFC 6376 section 8.15): a second one added on the way
# (an unsubscribe link above ours, which a mail client may take first) breaks the
# signature instead of riding on it. Absent ones too: nobody can add them.
OVERSIGNED = (b"From", b"Subject", b"List-Unsubscribe", b"List-Unsubscribe-Post")


@dataclass(frozen=True, slots=True)
class DkimSigner:
    """Signs messages for `domain` with the key published at `selector._domainkey.domain`."""

    domain: str
    selector: str
    private_key: bytes

    @classmethod
    def load(cls, domain: str, selector: str, private_key_file: Path) -> DkimSigner:
        """A signer with the PEM key of `private_key_file`; ConfigError naming the file."""
        try:
            key = private_key_file.read_bytes()
        except OSError as error:
            raise ConfigError(
                [f"dkim.private_key_file: {private_key_file}: cannot read ({error.strerror})"]
            ) from None
        if b"PRIVATE KEY-----" not in key:
            raise ConfigError([f"dkim.private_key_file: {private_key_file}: not a PEM private key"])
        return cls(domain=domain, selector=selector, private_key=key)

    def sign(self, message: WireMessage) -> WireMessage:
        """The message with a DKIM-Signature (relaxed/relaxed, rsa-sha256) over its bytes
        as they are sent, put first as dkimpy folded it."""
        present = _header_names(message.headers())
        try:
            header = dkim.sign(
                message.data,
                self.selector.encode(),
                self.domain.encode(),
                self.private_key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[
                    *(name for name in SIGNED_HEADERS if name.lower() in present),
                    *OVERSIGNED,
                ],
            )
        except dkim.DKIMException as error:
            raise DigestError(f"DKIM signing failed: {error}") from None
        return replace(message, data=header + message.data)


def _header_names(headers: bytes) -> set[bytes]:
    """The names of the headers in a header block, in lower case."""
    return {
        line.split(b":", 1)[0].strip().lower()
        for line in headers.split(b"\r\n")
        if line[:1] not in (b" ", b"\t")
    }


def signer_for(settings: Settings) -> DkimSigner | None:
    """The signer of the `[dkim]` section, or None when messages go unsigned."""
    found = settings.dkim
    if found is None:
        return None
    return DkimSigner.load(found.domain, found.selector, found.private_key_file)
