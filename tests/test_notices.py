"""What comes back to the list's address: DSN bounces (RFC 3464), hard and soft, and
unsubscribe requests from the List-Unsubscribe mailto. Real MTA shapes (Postfix, Exim)."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.mail.notices import Bounce, UnsubscribeRequest, read_notice

NOTICES = Path(__file__).parent / "data" / "notices"


def notice(name: str) -> object:
    return read_notice((NOTICES / name).read_bytes())


def test_a_postfix_user_unknown_is_a_hard_bounce_of_the_final_recipient() -> None:
    assert notice("postfix_hard.eml") == (
        Bounce(
            "bob@example.com",
            hard=True,
            detail="550 5.1.1 <bob@example.com>: Recipient address rejected: "
            "User unknown in virtual mailbox table",
        ),
    )


def test_an_exim_delay_warning_is_a_warning_not_a_failure() -> None:
    # The server goes on trying (RFC 3464 2.3.3): the failure, if it comes, says so.
    assert notice("exim_delayed.eml") == (
        Bounce("carol@example.com", hard=False, detail="452 4.2.2 Mailbox full", delayed=True),
    )


def test_a_full_mailbox_given_up_on_is_a_soft_bounce() -> None:
    # 5.2.2 is permanent for this message, not for the address (RFC 3463: "persistent
    # transient"): the reader may empty it.
    assert notice("exim_gave_up.eml") == (
        Bounce("carol@example.com", hard=False, detail="552 5.2.2 Mailbox full"),
    )


@pytest.mark.parametrize(
    ("status", "hard"),
    [
        ("5.1.1", True),  # no such mailbox
        ("5.1.2", True),  # no such domain
        ("5.1.10", True),  # a domain that takes no mail (null MX, Office 365 says so)
        ("5.1.7", False),  # our sender's address is bad: not the reader's fault
        ("5.1.8", False),
        ("5.7.1", False),  # a policy refusal: a blocklist, our DMARC
        ("5.7.26", False),
        ("5.3.4", False),  # message too big
        ("4.4.7", False),
    ],
)
def test_only_an_address_that_does_not_work_is_a_hard_bounce(status: str, hard: bool) -> None:
    raw = (NOTICES / "postfix_hard.eml").read_bytes().replace(b"5.1.1", status.encode())
    found = read_notice(raw)
    assert isinstance(found, tuple)
    assert [bounce.hard for bounce in found] == [hard]


def test_a_success_notification_is_no_bounce() -> None:
    assert notice("delivered.eml") is None


def test_a_mail_to_the_unsubscribe_address_is_a_request_from_its_sender() -> None:
    assert notice("unsubscribe_request.eml") == UnsubscribeRequest("ada@example.org")


def test_a_request_from_an_internationalized_address_names_it_as_written() -> None:
    raw = "From: Carl <carl@bücher.example>\r\nSubject: unsubscribe\r\n\r\nplease\r\n"
    assert read_notice(raw.encode()) == UnsubscribeRequest("carl@bücher.example")


@pytest.mark.parametrize("name", ["out_of_office.eml", "question.eml"])
def test_auto_replies_and_questions_are_left_for_a_person(name: str) -> None:
    assert notice(name) is None


def test_a_report_of_another_kind_is_no_bounce() -> None:
    raw = (
        b"From: x@example.net\r\nContent-Type: multipart/report; "
        b'report-type=disposition-notification; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nread\r\n--b--\r\n"
    )
    assert read_notice(raw) is None


@pytest.mark.parametrize(
    "recipient",
    ["x400; C=US;A=ATT", "rfc822; not an address", "rfc822;", ""],
    ids=["other-type", "spaces", "empty", "missing"],
)
def test_a_recipient_that_is_no_internet_address_is_skipped(recipient: str) -> None:
    field = f"Final-Recipient: {recipient}\r\n" if recipient else ""
    raw = (
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
        f"{field}Action: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
    ).encode()
    assert read_notice(raw) is None


def test_garbage_is_neither() -> None:
    assert read_notice(b"\x00\xff\xfe not a message at all") is None


def test_the_original_recipient_is_the_subscriber_when_an_alias_forwarded_the_mail() -> None:
    # Postfix expanded alice@uni.example.edu to a forward that does not exist.
    raw = (
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
        b"Final-Recipient: rfc822; alice.smith@gmail.example\r\n"
        b"Original-Recipient: rfc822;alice@uni.example.edu\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n\r\n"
        b"Final-Recipient: x-local; alice2\r\nOriginal-Recipient: rfc822; bob@example.com\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
    )
    found = read_notice(raw)
    assert isinstance(found, tuple)
    assert [bounce.recipient for bounce in found] == ["alice@uni.example.edu", "bob@example.com"]


def test_what_a_terminal_or_a_database_would_act_on_is_not_kept_from_a_report() -> None:
    raw = (
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
        b"Final-Recipient: rfc822; carol@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 \x1b]0;title\x07\x1b[2Jgone\x00 M\xfcller\r\n\r\n"
        b"Final-Recipient: rfc822; m\xfcller@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"\r\n--b--\r\n"
    )
    found = read_notice(raw)
    assert isinstance(found, tuple) and len(found) == 1
    assert found[0].recipient == "carol@example.com"
    assert "\x1b" not in found[0].detail and "\x00" not in found[0].detail
    assert found[0].detail.startswith("550 5.1.1 ]0;title[2Jgone")


@pytest.mark.parametrize(
    "sender",
    [
        "ada@example.org <bob@example.com>",  # parseaddr says ada's; a mail client, bob's
        "ada@example.org, bob@example.com",
    ],
)
def test_a_request_whose_from_names_two_addresses_unsubscribes_nobody(sender: str) -> None:
    raw = f"From: {sender}\r\nSubject: unsubscribe\r\n\r\nplease\r\n".encode()
    assert read_notice(raw) is None


def test_a_request_from_one_address_with_a_name_is_that_address() -> None:
    raw = b'From: "Ada L." <Ada@Example.org>\r\nSubject: Re: unsubscribe\r\n\r\n'
    assert read_notice(raw) == UnsubscribeRequest("ada@example.org")
