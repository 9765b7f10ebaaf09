"""Email messages as they go on the wire: built as bytes, once per subscriber.

What every subscriber of a sender shares is encoded once (the From and List-Id lines,
the mailto unsubscribe link, the MIME skeleton); per subscriber only To, Subject, Date,
Message-ID, the https unsubscribe link and the two parts are encoded. Building a full
`EmailMessage` per subscriber and serializing it again in `send_message` cost half the
send loop's CPU, for bytes that are the same but for a few lines.

The message has what `email.policy.SMTP` gave it: CRLF line endings, ASCII only,
no line over 998 bytes (MJML's HTML has very long lines, and a strict server answers
"500 Line too long"), one MIME-Version, multipart/alternative with the text part first,
both parts quoted-printable. The standard library still does what it is right for:
`binascii.b2a_qp` (what `quopri` uses) encodes the parts, `email.header` the subjects
and names that are not plain ASCII, `email.utils` the date.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.charset import Charset
from email.header import Header
from email.utils import format_datetime

from digest.errors import DigestError
from digest.mail.envelope import Envelope, sender_address, unsubscribe_mailto
from digest.text import has_control

# The longest unsubscribe link a header line holds (998 octets, less the header's name).
MAX_LINK_LENGTH = 970
# RFC 5322: a header line SHOULD stay within 78 characters and MUST within 998.
FOLD_AT = 78
MAX_LINE = 998
CRLF = b"\r\n"
# A quoted-printable body never holds "=_": its "=" is always "=XX" or a soft line break.
# So one boundary fits every message, and no part needs to be searched for it.
BOUNDARY = b"=_paper-digest_alternative"

_MULTIPART = (
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative;\r\n boundary="' + BOUNDARY + b'"\r\n'
    b"\r\n"
)
_PART_HEAD = (
    b"--" + BOUNDARY + b"\r\n"
    b'Content-Type: text/%s; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
)
_TEXT_HEAD = _PART_HEAD % b"plain"
_HTML_HEAD = _PART_HEAD % b"html"
_END = b"--" + BOUNDARY + b"--\r\n"

# A display name of atoms (RFC 5322 atext) between single spaces goes in unquoted.
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
# What the config lets through (email-validator, ASCII form): a dot-atom at a domain.
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
)
# Encoded words in UTF-8, Q or B encoding, whichever is shorter; RFC 2047 caps their length.
_UTF8 = Charset("utf-8")
MAX_ENCODED_WORD = 75
# A word of an unstructured header, and the spaces before it.
_SPACED_WORD = re.compile(r"( *)([^ ]+)")


@dataclass(frozen=True, slots=True)
class WireMessage:
    """One message as it goes on the wire: the SMTP envelope (MAIL FROM, RCPT TO) and
    the bytes of DATA, sent and stored as they are."""

    sender: str
    recipients: tuple[str, ...]
    message_id: str
    data: bytes

    def headers(self) -> bytes:
        """The header block, without the blank line that ends it."""
        end = self.data.find(b"\r\n\r\n")
        return self.data if end < 0 else self.data[:end]


@dataclass(frozen=True, slots=True)
class _SenderLines:
    """What every message of one sender carries, encoded once."""

    mail_from: str
    domain: str
    from_line: bytes
    list_id_line: bytes
    mailto_link: str


def message_id(envelope: Envelope) -> str:
    """The same Message-ID for the same (subscriber, edition): a resend is the same message.

    Shaped as MTAs and bulk senders make them, hex words at the sender's domain: no
    timestamp, no all-letters or all-caps word, an 8-hex word (SpamAssassin's
    __MSGID_OK_HEX), a dot so that the local part is no MSGID_RANDY shape.
    """
    key = f"{envelope.recipient.lower()}\n{envelope.edition.isoformat()}".encode()
    digest = hashlib.sha256(key).hexdigest()
    return f"<{digest[:8]}.{digest[8:32]}@{_sender_lines(envelope.sender).domain}>"


def build_message(
    envelope: Envelope, *, subject: str, text: str, html: str, now: datetime
) -> WireMessage:
    """The complete message for one subscriber's edition; DigestError when a header
    value cannot go on the wire (a line break in a name or the subject, say)."""
    sender = _sender_lines(envelope.sender)
    identifier = message_id(envelope)
    head = [
        sender.from_line,
        address_line("To", envelope.recipient_name, envelope.recipient),
        text_line("Subject", subject),
        b"Date: " + format_datetime(now).encode("ascii") + CRLF,
        b"Message-ID: " + identifier.encode("ascii") + CRLF,
    ]
    if envelope.feedback_id:
        head.append(text_line("Feedback-ID", envelope.feedback_id))
    head.append(sender.list_id_line)
    head.append(_unsubscribe_lines(envelope.unsubscribe_url, sender.mailto_link))
    # RFC 3834: made by a program, so no vacation responder answers it (into the bounce
    # folder, where `digest bounces` leaves such replies for a person).
    head.append(b"Auto-Submitted: auto-generated\r\n")
    data = b"".join((*head, _MULTIPART, _TEXT_HEAD, _part(text), _HTML_HEAD, _part(html), _END))
    return WireMessage(sender.mail_from, (envelope.recipient,), identifier, data)


def address_line(name: str, display_name: str | None, address: str) -> bytes:
    """`name: Display Name <address>` on the wire (see `_phrase` for the name)."""
    if not _ADDRESS.fullmatch(address):
        raise DigestError(f"{name}: {address!r} is not a plain ASCII email address")
    return _phrase_line(name, display_name, address)


def _phrase_line(name: str, display_name: str | None, angle: str) -> bytes:
    """`name: phrase <angle>`, folded before the angle brackets when the line is long."""
    phrase = _phrase(name, display_name)
    if not phrase:
        return f"{name}: {angle}\r\n".encode("ascii")
    line = f"{name}: {phrase}"
    if len(line) + len(angle) + 3 <= FOLD_AT:
        return f"{line} <{angle}>\r\n".encode("ascii")
    if len(line) > MAX_LINE - 2:
        raise DigestError(
            f"{name}: the name {(display_name or '')[:40]!r}... is too long for a header"
        )
    return f"{line}\r\n <{angle}>\r\n".encode("ascii")


def _phrase(name: str, display_name: str | None) -> str:
    """A display name as a header phrase: as it is when it is atoms, quoted when it is
    other ASCII, else one RFC 2047 encoded word (split in several, a name would come back
    from Python's parser with spaces between them)."""
    _refuse_control(name, display_name or "")
    # A name is words: mail readers show runs of spaces as one, and Python's parser
    # gives an encoded name back with its runs of (Unicode) spaces folded.
    display_name = " ".join((display_name or "").split())
    if not display_name:
        return ""
    if not display_name.isascii() or "=?" in display_name:
        return str(_UTF8.header_encode(display_name))
    if _ATOMS.fullmatch(display_name):
        return display_name
    return '"' + display_name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def text_line(name: str, value: str) -> bytes:
    """An unstructured header (Subject): its plain ASCII words as they are, the others
    RFC 2047-encoded (a run of them together), folded between words at 78 columns."""
    _refuse_control(name, value)
    return _folded(f"{name}:", _tokens(value)).encode("ascii") + CRLF


def quoted_printable(content: str) -> bytes:
    """A text part's body: UTF-8, CRLF line endings (the lone CR and LF of the content
    included), quoted-printable lines of at most 76 characters, ending in CRLF."""
    lines = content.encode("utf-8").splitlines()
    return binascii.b2a_qp(CRLF.join(lines) + CRLF, quotetabs=False, istext=True, header=False)


@functools.lru_cache(maxsize=16)
def _sender_lines(sender: str) -> _SenderLines:
    address = sender_address(sender)
    mail_from = address.addr_spec
    list_name = address.display_name or "Paper Digest"
    return _SenderLines(
        mail_from=mail_from,
        domain=address.domain,
        from_line=address_line("From", address.display_name, mail_from),
        # RFC 2919: a phrase, then the list's id in angle brackets (quoted like a name).
        list_id_line=_phrase_line("List-Id", list_name, f"digest.{address.domain}"),
        mailto_link=_fits_a_line(f"<{unsubscribe_mailto(sender)}>"),
    )


def _unsubscribe_lines(url: str | None, mailto_link: str) -> bytes:
    if not url:
        return f"List-Unsubscribe: {mailto_link}\r\n".encode("ascii")
    # RFC 8058: the https link first, and the Post header that makes it one-click. Raw,
    # one link a line: folded at 78 columns a token URL would be RFC 2047-encoded, and
    # mail clients then find no link.
    return (
        f"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        f"List-Unsubscribe: {_fits_a_line(f'<{url}>')},\r\n {mailto_link}\r\n"
    ).encode("ascii")


def _fits_a_line(link: str) -> str:
    # SMTP's limit for a line, less "List-Unsubscribe: " and the separator.
    if len(link) > MAX_LINK_LENGTH or not (link.isascii() and link.isprintable()):
        raise DigestError(
            f"unsubscribe link {link[:60]!r}... is not one line of at most "
            f"{MAX_LINK_LENGTH} printable ASCII characters",
            "use a shorter digest.unsubscribe_url",
        )
    return link


def _part(content: str) -> bytes:
    # The CRLF after the body belongs to the boundary line that follows (RFC 2046), so
    # the part's content keeps its own last line break.
    return quoted_printable(content) + CRLF


def _refuse_control(name: str, value: str) -> None:
    if has_control(value):
        raise DigestError(f"{name}: {value[:60]!r} has a line break or another control character")


def _tokens(value: str) -> list[str]:
    """The words of `value` as they go on the wire, each with the whitespace before it.

    A word is sent as it is when a reader gets it back unchanged: ASCII, no encoded-word
    opener, not too long for a line. Other words, with the spaces between them, become
    encoded words; so do spaces at either end (a parser drops them when they are bare).
    Whitespace between two encoded words is dropped by a decoder, so only their own
    spaces separate them.
    """
    words = _SPACED_WORD.findall(value)
    trailing = value[len(value.rstrip(" ")) :]
    tokens: list[str] = []
    run = ""  # the text of the encoded run in progress
    for number, (spaces, word) in enumerate(words):
        last = number == len(words) - 1
        plain = word.isascii() and "=?" not in word and len(spaces + word) < MAX_LINE // 2
        if plain and not (number == 0 and spaces) and not (last and trailing):
            if run:
                tokens += _encoded_words(run)
                run = ""
            tokens.append(f"{spaces or ' '}{word}")
        elif run:
            run += spaces + word
        else:  # after a plain word, one space stays bare between it and the run
            run = spaces[1:] + word if number else spaces + word
    if run or trailing:
        tokens += _encoded_words(run + trailing)
    return tokens


def _encoded_words(text: str) -> list[str]:
    """`text` as encoded words of at most 75 characters, each with the space before it."""
    word = _UTF8.header_encode(text)
    if len(word) <= MAX_ENCODED_WORD:
        return [f" {word}"]
    words = Header(text, "utf-8", maxlinelen=MAX_ENCODED_WORD).encode(linesep="\n").split()
    return [f" {word}" for word in words]


def _folded(prefix: str, tokens: list[str]) -> str:
    """`prefix` and the tokens, folded before a token's whitespace where a line would
    pass 78 columns."""
    lines, line = [], prefix
    for token in tokens:
        if len(line) + len(token) > FOLD_AT and line != prefix:
            lines.append(line)
            line = token
        else:
            line += token
    lines.append(line)
    return "\r\n".join(lines)
