"""Messages: what a strict SMTP server and a mail client expect, byte for byte."""

from __future__ import annotations

import difflib
import email
import os
import random
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import default
from email.utils import parseaddr
from pathlib import Path

import pytest

from digest.config import Settings
from digest.errors import DigestError
from digest.mail.compose import compose
from digest.mail.envelope import Envelope
from digest.mail.message import build_message, message_id
from digest.mail.render import Renderer
from digest.models import Profile
from digest.rank.pool import build_pool
from digest.rank.ranker import rank
from digest.tokens import Purpose, sign
from tests.golden import GOLDEN_DIR
from tests.seeds import seed_candidates

NOW = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
ENVELOPE = Envelope(
    sender="Paper Digest <digest@example.org>",
    recipient="ada@example.org",
    recipient_name="Ada Lovelace",
    edition=date(2026, 11, 21),
    unsubscribe_url="https://digest.example.org/unsubscribe?token=abc.def",
)
LONG_HTML = "<html><body>" + "<p>" + "x" * 5000 + "</p>" * 3 + "Jörg</body></html>"


def built(
    envelope: Envelope = ENVELOPE,
    subject: str = "Paper Digest: 3 papers",
    text: str = "Hello Jörg\n",
) -> bytes:
    return build_message(envelope, subject=subject, text=text, html=LONG_HTML, now=NOW).data


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0] for line in head.split("\r\n") if not line[:1].isspace()]


def test_lines_end_in_crlf_and_none_is_longer_than_998_bytes() -> None:
    raw = built()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert raw.isascii()


def test_it_is_multipart_alternative_with_the_text_part_first() -> None:
    message = parsed(built())
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text, html = (part.get_content().replace("\r\n", "\n") for part in message.iter_parts())
    assert (text, html.rstrip("\n")) == ("Hello Jörg\n", LONG_HTML)
    assert built().count(b"MIME-Version:") == 1
    assert message.defects == [] and all(part.defects == [] for part in message.walk())


def test_the_parts_keep_every_line_break_and_character_of_the_content() -> None:
    text = "a\r\nb\rc\n.\n--=_paper-digest_alternative\nFrom here  \n\ttab\n= sign =3D\n"
    message = parsed(built(text=text))
    plain = message.get_body(("plain",))
    assert plain is not None
    assert (
        plain.get_content().replace("\r\n", "\n")
        == "a\nb\nc\n.\n--=_paper-digest_alternative\nFrom here  \n\ttab\n= sign =3D\n"
    )
    assert len(list(message.iter_parts())) == 2, "a boundary-like line of the text is no boundary"


TEXT_PIECES = ("=", "==", " ", "\t", "é", "—", "日本", "🎉", "\n", "\r\n", "\r", ".", "x" * 74, "y")


@pytest.mark.parametrize("seed", range(40))
def test_any_part_content_comes_back_whole(seed: int) -> None:
    """Quoted-printable around the 76-column cut: escapes, spaces and tabs at a line's end,
    multibyte characters, lone dots."""
    rng = random.Random(seed)
    text = "".join(rng.choice(TEXT_PIECES) for _ in range(rng.randint(0, 60)))
    raw = built(text=text)
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    plain = parsed(raw).get_body(("plain",))
    assert plain is not None
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    expected = lines if lines.endswith("\n") else lines + "\n"
    assert plain.get_content().replace("\r\n", "\n") == expected


def test_headers_come_from_the_config_and_the_edition() -> None:
    message = parsed(built())
    assert message["From"] == "Paper Digest <digest@example.org>"
    assert message["To"] == "Ada Lovelace <ada@example.org>"
    assert message["Subject"] == "Paper Digest: 3 papers"
    assert message["Date"] == "Sat, 21 Nov 2026 07:00:00 +0000"
    assert message["List-Id"] == "Paper Digest <digest.example.org>"
    assert header_names(built()) == [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Id",
        "List-Unsubscribe-Post",
        "List-Unsubscribe",
        "Auto-Submitted",
        "MIME-Version",
        "Content-Type",
    ]
    # RFC 3834: no vacation responder answers a message a program made.
    assert message["Auto-Submitted"] == "auto-generated"


def test_the_smtp_envelope_is_the_senders_address_and_the_recipients() -> None:
    message = build_message(ENVELOPE, subject="x", text="", html="", now=NOW)
    assert (message.sender, message.recipients) == ("digest@example.org", ("ada@example.org",))
    assert message.message_id == message_id(ENVELOPE)


def test_one_click_unsubscribe_is_offered_with_an_https_endpoint() -> None:
    message = parsed(built())
    assert message["List-Unsubscribe"] == (
        "<https://digest.example.org/unsubscribe?token=abc.def>, "
        "<mailto:digest@example.org?subject=unsubscribe>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_without_an_https_endpoint_only_the_mailto_is_offered() -> None:
    plain = Envelope(
        sender=ENVELOPE.sender,
        recipient=ENVELOPE.recipient,
        recipient_name=None,
        edition=ENVELOPE.edition,
    )
    message = parsed(built(plain))
    assert message["List-Unsubscribe"] == "<mailto:digest@example.org?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] is None
    assert message["To"] == "ada@example.org"


def test_the_message_id_is_stable_per_subscriber_and_edition() -> None:
    again = Envelope(
        sender=ENVELOPE.sender,
        recipient="ADA@example.org",
        recipient_name=None,
        edition=date(2026, 11, 21),
    )
    tomorrow = Envelope(
        sender=ENVELOPE.sender,
        recipient=ENVELOPE.recipient,
        recipient_name=None,
        edition=date(2026, 11, 22),
    )
    assert message_id(ENVELOPE) == message_id(again) != message_id(tomorrow)
    assert message_id(ENVELOPE).endswith("@example.org>")
    assert parsed(built())["Message-ID"] == message_id(ENVELOPE)
    assert built() == built(), "a resend is the same message, byte for byte"


# SpamAssassin's rules on the shape of a Message-ID (rules/20_head_tests.cf): ours must
# match none of the spam shapes, and match the "OK hex" exception of MSGID_RANDY.
SPAM_SHAPES = {
    "MSGID_SPAM_CAPS": r"^\s*<?[A-Z]+\@",
    "MSGID_SPAM_LETTERS": r"<[a-z]{5,}\@(?:\S+\.)+\S+>",
    "__MSGID_RANDY": r"<[a-z\d][a-z\d\$-]{10,29}[a-z\d]\@[a-z\d][a-z\d.]{3,12}[a-z\d]>",
    "MSGID_SHORT": r"^.{1,15}$|<.{0,4}\@",
    "__MSGID_DOLLARS_MAYBE": r"<\w{4,}\$\w{4,}\$(?!localhost)\w{4,}\@\S+>",
    "__MSGID_NOFQDN2": r"<.*\@[A-Za-z0-9]+>",
}


@pytest.mark.parametrize("recipient", ["ada@example.org", "b@x.io", "a.very.long.name@example.org"])
def test_the_message_id_has_no_shape_spam_filters_flag(recipient: str) -> None:
    value = message_id(replace(ENVELOPE, recipient=recipient))
    assert re.fullmatch(r"<[0-9a-f]{8}\.[0-9a-f]{24}@example\.org>", value), value
    flagged = [rule for rule, shape in SPAM_SHAPES.items() if re.search(shape, value)]
    assert flagged == []
    assert re.search(r"\b[a-f\d]{8}\b", value), "SpamAssassin's __MSGID_OK_HEX"


def test_a_non_ascii_subject_is_encoded_and_comes_back_whole() -> None:
    subject = "Paper Digest: Jörg's $\\alpha$-nets — 10 papers"
    raw = built(subject=subject)
    assert raw.isascii()
    assert parsed(raw)["Subject"] == subject


def test_a_long_ascii_subject_is_folded_between_words() -> None:
    subject = "Paper Digest, 21 Nov: 10 papers - " + " ".join(["Graph"] * 30)
    raw = built(subject=subject)
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert max(len(line) for line in head if not line.startswith(b"List-Unsubscribe: <")) <= 78
    assert parsed(raw)["Subject"] == subject


def test_a_sender_that_is_not_an_address_is_an_error() -> None:
    bad = Envelope(
        sender="Paper Digest", recipient="a@example.org", recipient_name=None, edition=NOW.date()
    )
    with pytest.raises(DigestError, match=r"digest\.sender 'Paper Digest' is not an email"):
        built(bad)


def test_the_unsubscribe_header_goes_on_the_wire_unencoded_with_a_real_token() -> None:
    """RFC 2047 encoding (`=?utf-8?q?...`) would hide the link from every mail client."""
    token = sign(Purpose.UNSUBSCRIBE, "ada.lovelace@example.org", "a-long-and-random-secret" * 3)
    url = f"https://digest.example.org/unsubscribe?token={token}"
    assert len(url) > 100, "longer than a folded header line"
    raw = built(replace(ENVELOPE, unsubscribe_url=url))
    assert (
        b"\r\nList-Unsubscribe: <" + url.encode() + b">,\r\n"
        b" <mailto:digest@example.org?subject=unsubscribe>\r\n"
    ) in raw
    assert b"=?utf-8?" not in raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw


# --- every subject and name comes back as it was -------------------------------------------

# Pieces the generated subjects and names are made of: plain words, what has a meaning
# in a header (specials, quotes, encoded-word openers, header-like text), non-ASCII
# letters and symbols, runs of spaces, and long words.
PIECES = (
    "Paper",
    "Digest,",
    "21 Nov:",
    "Jörg",
    "Müller-Lüdenscheidt",
    "Петров",
    "日本語の論文",
    "— ",
    "🎉",
    "e\u0301",
    "\u00a0",
    "$\\alpha$",
    '"quoted"',
    "back\\slash",
    "(comment)",
    "<eve@evil.example>",
    "a,b;c:d",
    "[x].",
    "=?utf-8?q?Bcc:_eve@evil.example?=",
    "=?",
    "?=",
    "=3D",
    "_",
    "Bcc: eve@evil.example",
    "  ",
    " ",
    "x" * 90,
    "ü" * 40,
)
INJECTIONS = (
    "Ada <eve@evil.example>, Bob <bob@evil.example>",
    "eve@evil.example",
    '"Ada" <eve@evil.example>',
    "=?utf-8?q?Ada=0D=0ABcc:_eve@evil.example?=",
    'Ada\\" <eve@evil.example>',
    "Subject: forged",
)


def generated(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    values = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 8))) for _ in range(count)]
    return [*values, *INJECTIONS, "", "x", " leading", "trailing ", "ü" * 200, "a " * 200]


@pytest.mark.parametrize("subject", generated(150, seed=20261121))
def test_any_subject_parses_back_whole_and_without_defects(subject: str) -> None:
    raw = built(subject=subject)
    assert_well_formed(raw)
    message = parsed(raw)
    assert str(message["Subject"]) == subject
    words = re.findall(rb"=\?utf-8\?[qb]\?[^?]*\?=", raw.split(b"\r\nDate: ")[0])
    assert all(len(word) <= 75 for word in words), "RFC 2047's longest encoded word"
    assert message["To"].addresses[0].addr_spec == "ada@example.org"


@pytest.mark.parametrize("name", generated(150, seed=1815))
def test_any_name_parses_back_whole_and_without_defects(name: str) -> None:
    raw = built(replace(ENVELOPE, recipient_name=name))
    assert_well_formed(raw)
    [address] = parsed(raw)["To"].addresses
    words = " ".join(name.split())  # a name's spaces only separate its words
    assert (address.display_name, address.addr_spec) == (words, "ada@example.org")


def assert_well_formed(raw: bytes) -> None:
    """ASCII, CRLF, short lines, no defect anywhere, and no header but ours."""
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    message = parsed(raw)
    assert [part.defects for part in message.walk()] == [[], [], []]
    assert [(name, message[name].defects) for name in ("From", "To", "Subject")] == [
        ("From", ()),
        ("To", ()),
        ("Subject", ()),
    ]
    assert header_names(raw) == header_names(built())


@pytest.mark.parametrize(
    "broken", ["x\r\nBcc: eve@evil.example", "x\nBcc: y", "x\ry", "a\tb", "\x00", "x\u2028y"]
)
def test_a_line_break_or_control_character_in_a_subject_or_name_is_refused(broken: str) -> None:
    with pytest.raises(DigestError, match=r"Subject: .* has a line break or another control"):
        built(subject=broken)
    with pytest.raises(DigestError, match=r"To: .* has a line break or another control"):
        built(replace(ENVELOPE, recipient_name=broken))


# A no-break space, a zero-width non-joiner (Persian), a zero-width joiner (an emoji, Sinhala).
REAL_NAMES = (
    "Ana\u00a0María",
    "\u0639\u0644\u06cc\u200c\u0631\u0636\u0627",  # Alireza, in Persian
    "Robot \U0001f469\u200d\U0001f52c",
    "\u0dc1\u0dca\u200d\u0dbb\u0dd3",  # Sri, in Sinhala
)


@pytest.mark.parametrize("name", REAL_NAMES)
def test_names_with_joiners_and_no_break_spaces_load_and_go_on_the_wire(name: str) -> None:
    """Format characters are text, not controls: the config takes the name, and the To
    header carries it back whole (a no-break space as the space between two words)."""
    settings = Settings.model_validate(
        {"subscribers": [{"email": "ada@example.org", "name": name}]}
    )
    assert settings.subscribers[0].name == name
    message = parsed(built(replace(ENVELOPE, recipient_name=name)))
    assert message["To"].addresses[0].display_name == name.replace("\u00a0", " ")


def test_a_recipient_that_is_no_plain_address_is_refused() -> None:
    for recipient in ("ada@example.org>, eve@evil.example", '"a b"@example.org', "ada"):
        with pytest.raises(DigestError, match="is not a plain ASCII email address"):
            built(replace(ENVELOPE, recipient=recipient))


# --- one complete message, byte for byte ----------------------------------------------------


def test_a_seed_digest_message_matches_its_golden_file(shared: Path) -> None:
    """Ada's edition of the seed dumps as it goes on the wire. When the templates change,
    regenerate with DIGEST_UPDATE_GOLDEN=1 and read the diff."""
    today = date(2026, 11, 21)
    candidates = seed_candidates(shared / "seeds", today=today, first_seen=NOW)
    interests = ("graph neural networks", "link prediction")
    profile = Profile(name="ada@example.org", interests=interests, max_papers=10)
    settings = Settings.model_validate(
        {"digest": {"sender": "Paper Digest <digest@example.org>", "contact": "help@example.org"}}
    )
    _rendered, message = compose(
        Renderer.load(),
        settings,
        edition=today,
        recipient="ada@example.org",
        name="Ada Lovelace",
        interests=interests,
        picks=tuple(rank(build_pool(candidates, today=today), profile)),
        now=NOW,
    )
    assert_well_formed_message(message.data)
    assert_golden_bytes("message_seeds.eml", message.data)


def assert_well_formed_message(raw: bytes) -> None:
    assert raw.isascii() and max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert [part.defects for part in parsed(raw).walk()] == [[], [], []]


def assert_golden_bytes(name: str, actual: bytes) -> None:
    """Compare `actual` with tests/golden/<name> byte for byte (CRLF and all)."""
    path = GOLDEN_DIR / name
    if os.environ.get("DIGEST_UPDATE_GOLDEN") == "1":
        path.write_bytes(actual)
        return
    assert path.exists(), f"no golden file {path}; run with DIGEST_UPDATE_GOLDEN=1 to create it"
    expected = path.read_bytes()
    if actual == expected:
        return
    diff = difflib.unified_diff(
        expected.decode("ascii", "replace").split("\r\n"),
        actual.decode("ascii", "replace").split("\r\n"),
        str(path),
        "actual",
        n=1,
        lineterm="",
    )
    shown = "\n".join(list(diff)[:60])
    raise AssertionError(
        f"the message differs from {path} (DIGEST_UPDATE_GOLDEN=1 rewrites it):\n{shown}"
    )


@pytest.mark.parametrize("list_name", ['Lab (beta), "X"', "Lab: Papers", "Ünïcode Lab"])
def test_a_list_name_with_specials_is_a_valid_list_id_phrase(list_name: str) -> None:
    # A sender name is quoted in From; it must be in List-Id too (RFC 2919's phrase).
    sender = '"' + list_name.replace('"', '\\"') + '" <digest@example.org>'
    message = parsed(built(replace(ENVELOPE, sender=sender)))
    assert message["List-Id"].defects == ()
    assert parseaddr(str(message["List-Id"])) == (list_name, "digest.example.org")
