"""Password hashes: argon2id for every password set now, and users whose hash was written
before argon2id (scrypt) still sign in, their hash replaced by an argon2id one at that moment."""

from __future__ import annotations

from typing import Any

from adapters.app.users import ARGON2_MEMORY_KIB, ARGON2_TIME
from adapters.portal.web import SESSION_COOKIE, Portal
from tests.portal.support import PASSWORD, Browser

# What the portal stored for PASSWORD before argon2id: scrypt n=2^14, r=8, p=1, a 16-byte salt
# (bytes 0..15), a 32-byte digest, both base64 (written by that version's hash_password)
LEGACY_SCRYPT = (
    "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8="
)


def stored_hash(portal: Portal, username: str) -> str:
    with portal.users.db.connect() as conn:
        row: Any = conn.execute(
            portal.users.db.sql("SELECT password_hash FROM portal_users WHERE username = ?"),
            (username,),
        ).fetchone()
    return str(row[0])


def with_legacy_hash(portal: Portal, username: str) -> None:
    """Put ``username`` back to the hash an older tollbook wrote for PASSWORD."""
    with portal.users.db.connect() as conn:
        conn.execute(
            portal.users.db.sql("UPDATE portal_users SET password_hash = ? WHERE username = ?"),
            (LEGACY_SCRYPT, username),
        )


def test_new_passwords_are_stored_as_argon2id_hashes(portal: Portal) -> None:
    for username in ("fiona", "audrey", "adam"):
        stored = stored_hash(portal, username)
        assert stored.startswith(f"$argon2id$v=19$m={ARGON2_MEMORY_KIB},t={ARGON2_TIME},p=1$")
        assert PASSWORD not in stored
    # each new user's hash has its own salt, even for one password (the fixture's three users
    # share one real hash, made once to keep the suite fast)
    for name in ("nina", "omar"):
        portal.users.add(name, "finance", PASSWORD)
    assert stored_hash(portal, "nina") != stored_hash(portal, "omar")
    assert stored_hash(portal, "nina").startswith("$argon2id$")
    portal.users.set_password("fiona", "another long password")
    assert stored_hash(portal, "fiona").startswith("$argon2id$")


def test_a_scrypt_user_signs_in_and_is_rehashed_to_argon2id(
    anonymous: Browser, portal: Portal
) -> None:
    with_legacy_hash(portal, "fiona")
    signed = anonymous.sign_in("fiona")
    assert signed.status_code == 303
    assert SESSION_COOKIE in signed.cookies
    rehashed = stored_hash(portal, "fiona")
    assert rehashed.startswith("$argon2id$") and PASSWORD not in rehashed
    # the new hash is the password's: signing in again works and keeps it as it is
    assert portal.users.authenticate("fiona", PASSWORD) is not None
    assert portal.users.authenticate("fiona", PASSWORD + "x") is None
    assert stored_hash(portal, "fiona") == rehashed


def test_a_wrong_password_against_a_scrypt_hash_fails_and_changes_nothing(
    anonymous: Browser, portal: Portal
) -> None:
    with_legacy_hash(portal, "fiona")
    for wrong in ("not the password", PASSWORD + " ", PASSWORD.upper()):
        response = anonymous.sign_in("fiona", wrong)
        assert response.status_code == 401
        assert "The user name or the password is wrong." in response.text
    assert stored_hash(portal, "fiona") == LEGACY_SCRYPT


def test_a_scrypt_user_is_locked_out_like_any_other(anonymous: Browser, portal: Portal) -> None:
    now = [1_000_000.0]
    portal.users.clock = lambda: now[0]
    with_legacy_hash(portal, "fiona")
    for _ in range(5):
        assert anonymous.sign_in("fiona", "not the password").status_code == 401
    locked = anonymous.sign_in("fiona", PASSWORD)
    assert locked.status_code == 429 and locked.headers["retry-after"] == "900"
    assert stored_hash(portal, "fiona") == LEGACY_SCRYPT  # no password was checked
    now[0] += 15 * 60 + 1
    assert anonymous.sign_in("fiona").status_code == 303
    assert stored_hash(portal, "fiona").startswith("$argon2id$")


def test_malformed_stored_hashes_never_match(portal: Portal) -> None:
    for broken in ("scrypt$16384$8$1$not base64!$x", "scrypt$1$2", "$argon2id$v=19$nonsense", ""):
        with portal.users.db.connect() as conn:
            conn.execute(
                portal.users.db.sql("UPDATE portal_users SET password_hash = ? WHERE username = ?"),
                (broken, "audrey"),
            )
        assert portal.users.authenticate("audrey", PASSWORD) is None
