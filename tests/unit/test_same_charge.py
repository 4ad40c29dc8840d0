"""The words rule for a line typed by hand that bills a package's charge."""

from __future__ import annotations

import pytest

from domain.same_charge import match_key, names_charge


def test_the_match_key_sets_case_punctuation_and_spacing_aside():
    assert match_key("  SIP-Trunk,\t30ch  ") == "sip trunk 30ch"
    assert match_key("Straße") == "strasse"
    assert match_key("—!?") == ""


@pytest.mark.parametrize(
    ("typed", "name", "setup", "named"),
    [
        ("SIP Trunk 30ch", "SIP Trunk 30ch", False, True),
        ("sip trunk", "SIP Trunk 30ch", False, True),  # the first words of the name
        ("SIP Trunk 30ch, November", "SIP Trunk 30ch", False, True),  # the name and more
        ("SIP Trunk 30ch setup", "SIP Trunk 30ch", False, False),  # the setup charge instead
        ("SIP Trunk 30ch setup", "SIP Trunk 30ch", True, True),
        ("SIP Trunk", "SIP Trunk 30ch", True, False),  # a setup is named in full
        ("SIP Trunking", "SIP Trunk", False, False),  # words, not letters
        ("Porting fee", "SIP Trunk", False, False),
        ("", "SIP Trunk", False, False),
        ("...", "SIP Trunk", False, False),
    ],
)
def test_which_typed_words_name_a_packages_charge(typed, name, setup, named):
    assert names_charge(typed, name, setup=setup) is named
