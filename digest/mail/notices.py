"""What comes back to the list's address: bounces and unsubscribe requests.

A delivery status notification (RFC 3464: multipart/report; report-type=delivery-status)
names each recipient it is about, an action and a status code (RFC 3463). A failed
delivery to an address that does not work (5.1.x: no such mailbox, no such domain; not
5.1.7 and 5.1.8, which are about the sender) is a hard bounce; any other failure is a soft
one (a full mailbox, 5.2.2 or 4.2.2; a policy refusal, 5.7.x, which may be about us,
not the address; a server down). A delay ("Action: delayed": the server goes on trying)
is a warning, not a failure: the failure, if it comes, has a notification of its own. An
unsubscribe request is what the List-Unsubscribe mailto sends: a message whose subject
says "unsubscribe", from the address that leaves. Auto-replies ("out of office") are
neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses

_STATUS = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}$")
_UNSUBSCRIBE = re.compile(r"^\s*(?:re:\s*)*unsubscribe\b", re.IGNORECASE)
# What a stranger's DSN may carry that a terminal would act on (ESC) or a database refuse
# (NUL, PostgreSQL), and the bytes that were not UTF-8 (surrogate escapes).
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Bounce:
    """A recipient the server could not deliver to."""

    recipient: str
    hard: bool
    detail: str  # the status code and the server's words, for the record
    delayed: bool = False  # still being tried: a warning, counted nowhere


def address_gone(code: str) -> bool:
    """Whether an enhanced status code ("5.1.1") says the recipient's address itself does
    not work (RFC 3463 5.1.x: no such mailbox, no such domain, a bad address), not 5.1.7
    and 5.1.8, which are about the sender's: a hard bounce, from a notification or from
    a refusal at RCPT alike."""
    klass, _, rest = code.partition(".")
    subject, _, detail = rest.partition(".")
    return klass == "5" and subject == "1" and detail not in ("7", "8")


@dataclass(frozen=True, slots=True)
class UnsubscribeRequest:
    """Someone asking, by email, to leave the list."""

    sender: str


Notice = tuple[Bounce, ...] | UnsubscribeRequest | None


def read_notice(raw: bytes) -> Notice:
    """The bounces a message reports, the unsubscribe request it is, or None (neither)."""
    message = message_from_bytes(raw, policy=policy.compat32)
    if message.get_content_type() == "multipart/report":
        return _bounces(message)
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto == "no" and _UNSUBSCRIBE.match(str(message.get("Subject", ""))):
        sender = _from_address(message)
        if "@" in sender:
            return UnsubscribeRequest(sender.lower())
    return None


def _from_address(message: Message) -> str:
    """The address of the From header, as written: an internationalized one in raw UTF-8
    (RFC 6532) too, which compat32 keeps as surrogate escapes. "" unless it names exactly
    one: Python's parseaddr reads "ada@example.org <bob@example.com>" as ada's (CVE-2023-
    27043), while a mail client shows bob's address, who would unsubscribe ada."""
    for name, value in message.raw_items():
        if name.lower() == "from":
            text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            found = [address for _, address in getaddresses([text]) if address]
            return found[0] if len(found) == 1 else ""
    return ""


def _bounces(report: Message) -> tuple[Bounce, ...] | None:
    if str(report.get_param("report-type") or "").lower() != "delivery-status":
        return None
    found = []
    for part in report.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        # The first block is about the message; the others about one recipient each.
        for block in blocks[1:] if isinstance(blocks, list) else ():
            bounce = _bounce(block) if isinstance(block, Message) else None
            if bounce is not None:
                found.append(bounce)
    return tuple(found) or None


def _bounce(block: Message) -> Bounce | None:
    action = str(block.get("Action", "")).strip().lower()
    status = str(block.get("Status", "")).strip().split(" ")[0]
    matched = _STATUS.match(status)
    if action not in ("failed", "delayed") or matched is None or matched.group(1) == "2":
        return None
    # The address as we sent it (RFC 3464 2.3.1) before the one an alias or a forward
    # made of it (2.3.2): the list knows its subscribers by the former.
    recipient = _address(block.get("Original-Recipient")) or _address(block.get("Final-Recipient"))
    if recipient is None:
        return None
    diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
    words = diagnostic.partition(";")[2].strip() or diagnostic
    detail = _UNPRINTABLE.sub("", (words if status in words else f"{status} {words}"))
    detail = detail.strip()[:300]
    if action == "delayed":
        return Bounce(recipient, hard=False, detail=detail, delayed=True)
    return Bounce(recipient, hard=address_gone(status), detail=detail)


def _address(field: object) -> str | None:
    """The address of "rfc822; user@example.org" (other address types are not ours)."""
    if field is None:
        return None
    kind, _, value = str(field).partition(";")
    if kind.strip().lower() != "rfc822":
        return None
    address = value.strip().strip("<>").strip()
    usable = (
        "@" in address
        and " " not in address
        and not _UNPRINTABLE.search(address)
        and "\ufffd" not in address
    )
    return address.lower() if usable else None
