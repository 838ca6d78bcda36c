"""Secrets are redacted by value wherever they appear: nested step data and every log record."""

from __future__ import annotations

import logging

from automation.redaction import REDACTED, Redactor, install_log_redaction, remembered


def test_secret_is_replaced_in_nested_values_and_keys():
    redactor = Redactor(["hunter22"])
    value = {"a": ["x hunter22 y", {"hunter22": 1}], "n": 5, "none": None}
    assert redactor.redact(value) == {"a": [f"x {REDACTED} y", {REDACTED: 1}], "n": 5, "none": None}


def test_url_encoded_form_is_replaced_too():
    redactor = Redactor(["p@ss/word+1"])
    assert redactor.text("https://h/?pw=p%40ss%2Fword%2B1") == f"https://h/?pw={REDACTED}"


def test_a_longer_secret_containing_a_shorter_one_is_replaced_whole():
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redactor.text("abcdefgh") == REDACTED


def test_values_too_short_to_be_secrets_are_left_alone():
    assert Redactor(["ab", ""]).text("a cab") == "a cab"


def test_log_records_never_show_a_secret_this_process_has_decrypted(caplog):
    install_log_redaction()
    remembered.add(["tok-0123456789"])
    with caplog.at_level(logging.INFO):
        logging.getLogger("relay.test").info("calling with %s", "tok-0123456789")
        try:
            raise RuntimeError("bad token tok-0123456789")
        except RuntimeError:
            logging.getLogger("relay.test").exception("failed")
    assert "tok-0123456789" not in caplog.text
    assert f"calling with {REDACTED}" in caplog.text
    assert "bad token" in caplog.text
