"""Unsubscribe tokens: signed, per subscriber, unforgeable without the secret."""

from __future__ import annotations

from digest.mail.tokens import unsubscribe_token, verify_unsubscribe_token


def test_a_token_names_its_subscriber_and_is_url_safe() -> None:
    token = unsubscribe_token("Ada@Example.org", "s3cret")
    assert verify_unsubscribe_token(token, "s3cret") == "ada@example.org"
    assert all(char.isalnum() or char in "-_." for char in token)


def test_the_same_subscriber_always_gets_the_same_token() -> None:
    assert unsubscribe_token("ada@example.org", "k") == unsubscribe_token("ADA@example.org", "k")


def test_another_secret_or_a_tampered_token_is_refused() -> None:
    token = unsubscribe_token("ada@example.org", "s3cret")
    assert verify_unsubscribe_token(token, "other") is None
    forged = unsubscribe_token("bob@example.org", "guess").split(".")[0] + "." + token.split(".")[1]
    assert verify_unsubscribe_token(forged, "s3cret") is None
    assert verify_unsubscribe_token("not a token", "s3cret") is None
    assert verify_unsubscribe_token("", "s3cret") is None
