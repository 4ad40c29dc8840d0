"""Whether a line typed by hand bills the same thing as a package's charge.

The billing run must not bill a package period another invoice already bills (docs/
usage-billing.md, "Never bill twice"). Lines added from a package carry its id; a line typed by
hand carries only words. It is taken to bill the package when its words name the package: the
same words once case, punctuation and spacing are set aside, or the package's name followed by
more words ("SIP Trunk 30ch, November"). A recurring charge is also matched by the first words
of its name ("SIP Trunk" for "SIP Trunk 30ch"); a setup charge only by its full name and
"setup". A match makes the run hold the charge back and report it: a false match costs a look
at the report (and ``--allow-overlap``), a missed one bills the customer twice.
"""

from __future__ import annotations

import re

_NOT_WORDS = re.compile(r"[\W_]+")


def match_key(text: str) -> str:
    """``text``'s words, case-folded, separated by single spaces."""
    return _NOT_WORDS.sub(" ", text.casefold()).strip()


def names_charge(description: str, package_name: str, *, setup: bool = False) -> bool:
    """Whether a hand-typed ``description`` names the package's recurring charge (or, with
    ``setup``, its setup charge)."""
    typed = match_key(description)
    name = match_key(package_name)
    if not typed or not name:
        return False
    if setup:
        name = f"{name} setup"
        return typed == name or typed.startswith(name + " ")
    if typed == name:
        return True
    if typed.startswith(name + " "):  # more words, unless they say it is the setup charge
        return typed[len(name) + 1 :].split(" ")[0] != "setup"
    return name.startswith(typed + " ")
