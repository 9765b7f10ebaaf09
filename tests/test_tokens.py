"""Link tokens: one purpose, one address, one subject each; unforgeable without the
secret; still accepted after the secret rotates, while the old one is listed."""

from __future__ import annotations

import pytest

from digest.tokens import Grant, Purpose, sign, verify

UNSUBSCRIBE, VOTE, ONLINE = Purpose.UNSUBSCRIBE, Purpose.VOTE, Purpose.ONLINE


def test_a_token_names_its_subscriber_and_is_url_safe() -> None:
    token = sign(UNSUBSCRIBE, "Ada@Example.org", "s3cret")
    assert verify(token, UNSUBSCRIBE, ["s3cret"]) == Grant(UNSUBSCRIBE, "ada@example.org", "")
    assert all(char.isalnum() or char in "-_." for char in token)


def test_the_same_subscriber_always_gets_the_same_token() -> None:
    assert sign(UNSUBSCRIBE, "ada@example.org", "k") == sign(UNSUBSCRIBE, "ADA@example.org", "k")


def test_unsubscribe_tokens_keep_the_shape_of_the_links_already_sent() -> None:
    # The first release signed b"unsubscribe:" + address; emails with those links are out.
    assert (
        sign(UNSUBSCRIBE, "ada@example.org", "s3cret")
        == "YWRhQGV4YW1wbGUub3Jn.ENQ7AxP4hEXgIsqJvZIgSZRpxkEUZGWa3ZCqV33BrfQ"
    )


def test_another_secret_or_a_tampered_token_is_refused() -> None:
    token = sign(UNSUBSCRIBE, "ada@example.org", "s3cret")
    assert verify(token, UNSUBSCRIBE, ["other"]) is None
    forged = sign(UNSUBSCRIBE, "bob@example.org", "guess").split(".")[0] + "." + token.split(".")[1]
    assert verify(forged, UNSUBSCRIBE, ["s3cret"]) is None


@pytest.mark.parametrize(
    "token", ["", "not a token", "a.b.c.d", "....", "YWRh.!!!", "QUJD.YWJj", "é.é"]
)
def test_malformed_tokens_are_refused_without_an_error(token: str) -> None:
    assert verify(token, UNSUBSCRIBE, ["s3cret"]) is None


def test_a_token_grants_only_its_own_purpose() -> None:
    vote = sign(VOTE, "ada@example.org", "k", subject="arxiv:2501.00001")
    assert verify(vote, VOTE, ["k"]) == Grant(VOTE, "ada@example.org", "arxiv:2501.00001")
    assert verify(vote, UNSUBSCRIBE, ["k"]) is None
    assert verify(vote, ONLINE, ["k"]) is None
    unsubscribe = sign(UNSUBSCRIBE, "ada@example.org", "k")
    assert verify(unsubscribe, Purpose.RESUBSCRIBE, ["k"]) is None


def test_a_subject_cannot_be_swapped_for_another() -> None:
    vote = sign(VOTE, "ada@example.org", "k", subject="arxiv:2501.00001")
    other = sign(VOTE, "ada@example.org", "k", subject="arxiv:2501.00002")
    spliced = ".".join([*vote.split(".")[:2], other.split(".")[2]])
    assert verify(spliced, VOTE, ["k"]) is None


def test_an_upper_case_address_in_a_token_is_not_ours() -> None:
    # We only sign lower-case addresses: another spelling is a token someone made.
    token = sign(UNSUBSCRIBE, "ada@example.org", "k")
    shouted = "QURBQEVYQU1QTEUuT1JH." + token.split(".")[1]
    assert verify(shouted, UNSUBSCRIBE, ["k"]) is None


def test_a_rotated_secret_still_accepts_links_signed_with_the_old_one() -> None:
    old = sign(ONLINE, "ada@example.org", "old", subject="2026-12-01")
    new = sign(ONLINE, "ada@example.org", "new", subject="2026-12-01")
    assert verify(old, ONLINE, ["new", "old"]) == verify(new, ONLINE, ["new", "old"])
    assert verify(old, ONLINE, ["new"]) is None  # retired: removed from the list
