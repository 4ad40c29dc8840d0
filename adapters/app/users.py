"""Portal users (finance, auditor, admin) and their sign-in sessions, beside the event store.

Passwords are stored only as argon2id hashes (salted, memory-hard: a stolen table does not give
passwords back cheaply). Hashes written before argon2id (scrypt) still sign in, and a right
password replaces such a hash with an argon2id one (docs/portal.md, "Passwords").

Sessions are server-side rows keyed by the SHA-256 of a random token held in the browser's
cookie, so signing out, removing a user or expiry take effect at once.
Each session carries its own CSRF token, which every form posts back.

Guessing is throttled per user name (unknown names too, so a lock does not tell which names
exist). Every sign-in first claims one of ``MAX_FAILURES`` attempt slots in the database, in one
conditional upsert, before any password is checked; the ``MAX_FAILURES``th slot locks the name
for ``LOCK_MINUTES``. So however many guesses arrive at once, at most ``MAX_FAILURES`` passwords
are checked per lock window. A right password gives the slots back only when it raced nothing:
no other attempt for the name was in flight as it finished and no wrong password was recorded
since it began (docs/portal.md, "Sign-in lockout").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

import structlog
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from adapters.store.database import Database
from adapters.store.migrations.runner import migrate
from domain.errors import AlreadyExists, InvalidInput, NotFound
from domain.limits import ACTOR, check_text
from domain.tenancy import tagged

Role = Literal["finance", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("finance", "auditor", "admin")
WRITING_ROLES: tuple[Role, ...] = ("finance", "admin")
MIN_PASSWORD = 10
MAX_USERNAME = 64

MAX_FAILURES = 5
LOCK_MINUTES = 15

log = structlog.get_logger("tollbook.portal")

# argon2id at OWASP's first recommended setting (19 MiB, 2 passes, 1 lane): ~70 ms per check on
# this class of machine, near what scrypt cost before; RFC 9106's 64 MiB x 3 passes took ~300 ms
# on the service's two shared cores, which a burst of sign-ins would queue behind
ARGON2_MEMORY_KIB, ARGON2_TIME, ARGON2_LANES = 19 * 1024, 2, 1
_HASHER = PasswordHasher(
    time_cost=ARGON2_TIME,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_LANES,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)


@dataclass(frozen=True)
class SignInRecord:
    """Where a user name stands: see the columns of ``portal_sign_in_attempts``."""

    attempts: int
    in_flight: int
    failures: int
    locked_until: float


class SignInLocked(Exception):
    """Too many wrong passwords for this user name: try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed sign-ins: try again in {retry_after:.0f} s")
        self.retry_after = retry_after


def _plausible_username(username: str) -> bool:
    """Whether ``username`` could be a user's name at all (what ``add`` accepts)."""
    return (
        0 < len(username) <= MAX_USERNAME
        and username.isprintable()
        and not any(c.isspace() for c in username)
    )


def _check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` in the PHC string format (``$argon2id$v=19$m=...``)."""
    return _HASHER.hash(password)


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``: an argon2id hash, or a scrypt one written before
    argon2id (``scrypt$N$r$p$salt$digest``, base64). Anything else never matches."""
    if stored.startswith("scrypt$"):
        return _check_scrypt(password, stored)
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether a hash that just matched should be replaced: scrypt, or argon2 at other costs."""
    if stored.startswith("scrypt$"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def _check_scrypt(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=32,
        )
        return hmac.compare_digest(candidate, base64.b64decode(digest))
    except ValueError:  # a malformed stored value (binascii.Error is a ValueError)
        return False


# Checked against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    created_at: str

    @property
    def can_write(self) -> bool:
        return self.role in WRITING_ROLES


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: float


class Users:
    """The ``portal_users`` and ``portal_sessions`` tables."""

    def __init__(
        self,
        db: Database,
        *,
        idle_minutes: float = 30,
        max_hours: float = 12,
        clock: Callable[[], float] = time.time,
        verify: Callable[[str, str], bool] = check_password,
        tenant: str | None = None,
    ) -> None:
        self.db = db
        # a tenant's session tokens carry its name (``<tenant>.…``, docs/scaling.md)
        self.tenant = tenant
        # (password, stored hash) -> right?; replaceable so tests can count and pace checks
        self.verify = verify
        self.idle_seconds = idle_minutes * 60
        self.max_seconds = max_hours * 3600
        self.clock = clock

    def ensure_schema(self) -> None:
        migrate(self.db)

    # ------------------------------------------------------------------ users

    def add(self, username: str, role: str, password: str) -> User:
        username = username.strip()
        if not _plausible_username(username):
            raise InvalidInput(
                f"a user name must be 1 to {MAX_USERNAME} printable characters without spaces"
            )
        check_text(username, ACTOR, what="user name")  # it becomes every event's actor
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        _check_new_password(password)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with self.db.connect() as conn:
            exists = conn.execute(
                self.db.sql("SELECT 1 FROM portal_users WHERE username = ?"), (username,)
            ).fetchone()
            if exists:
                raise AlreadyExists(f"a user called {username!r} already exists")
            conn.execute(
                self.db.sql(
                    "INSERT INTO portal_users (username, role, password_hash, created_at)"
                    " VALUES (?, ?, ?, ?)"
                ),
                (username, role, hash_password(password), created),
            )
        return User(username, role, created)

    def list(self) -> list[User]:
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT username, role, created_at FROM portal_users ORDER BY username"
            ).fetchall()
        return [User(str(u), cast(Role, r), str(c)) for u, r, c in rows]

    def remove(self, username: str) -> None:
        """Remove a user and end every session of theirs at once."""
        if not _plausible_username(username):
            raise NotFound(f"no user called {username!r}")
        with self.db.connect() as conn:
            cursor = conn.execute(
                self.db.sql("DELETE FROM portal_users WHERE username = ?"), (username,)
            )
            if cursor.rowcount != 1:
                raise NotFound(f"no user called {username!r}")
            conn.execute(self.db.sql("DELETE FROM portal_sessions WHERE username = ?"), (username,))

    def authenticate(self, username: str, password: str) -> User | None:
        """The user, or None for a wrong name or password; SignInLocked while the name is
        locked after too many attempts (no password is checked then)."""
        username = username.strip()
        if not _plausible_username(username):
            # no user can have this name (add refuses it), so there is nothing to guess and
            # nothing to count; control characters never reach the database
            log.info("portal sign-in with an impossible user name")
            return None
        failures_seen = self._claim_attempt(username, self.clock())
        user: User | None = None
        try:
            with self.db.connect(write=False) as conn:
                row = conn.execute(
                    self.db.sql(
                        "SELECT username, role, created_at, password_hash FROM portal_users"
                        " WHERE username = ?"
                    ),
                    (username,),
                ).fetchone()
            if row is None:
                self.verify(password, _DUMMY_HASH)
            elif self.verify(password, str(row[3])):
                user = User(str(row[0]), cast(Role, row[1]), str(row[2]))
                if needs_rehash(str(row[3])):
                    self._rehash(user.username, str(row[3]), password)
            log.info("portal password checked", username=username, right=user is not None)
        finally:
            # whatever happened (even an error), the slot is settled: as a failure unless the
            # password was right
            self._settle_attempt(username, failures_seen, right=user is not None)
        return user

    def _rehash(self, username: str, stored: str, password: str) -> None:
        """Replace the matched ``stored`` hash with an argon2id one. Only if it is still the
        stored one: a password set meanwhile (``set_password``) is never overwritten."""
        with self.db.connect() as conn:
            cursor = conn.execute(
                self.db.sql(
                    "UPDATE portal_users SET password_hash = ?"
                    " WHERE username = ? AND password_hash = ?"
                ),
                (hash_password(password), username, stored),
            )
        log.info("portal password rehashed", username=username, done=cursor.rowcount == 1)

    def _claim_attempt(self, username: str, now: float) -> int:
        """Take an attempt slot for ``username`` or raise SignInLocked; returns the number of
        failures recorded for the name so far.

        The slot is claimed by one conditional upsert (``attempts < MAX_FAILURES``): on
        PostgreSQL concurrent claims queue on the row's lock and each re-checks the condition
        against the row as the previous one left it; SQLite runs the whole transaction under
        its write lock (``BEGIN IMMEDIATE``). Either way no more than ``MAX_FAILURES`` slots
        are handed out per lock window."""
        table = "portal_sign_in_attempts"
        lock_until = now + LOCK_MINUTES * 60
        with self.db.connect() as conn:
            # a lock that has run out starts a fresh count (a check lasts well under a second,
            # so nothing claimed before the lock is still in flight)
            conn.execute(
                self.db.sql(
                    f"UPDATE {table} SET attempts = 0, in_flight = 0, locked_until = 0"
                    " WHERE username = ? AND attempts >= ? AND locked_until <= ?"
                ),
                (username, MAX_FAILURES, now),
            )
            # one statement whether or not the name has a row yet; a conflicting row whose
            # slots are all taken is left unchanged and nothing is returned
            claimed = conn.execute(
                self.db.sql(
                    f"INSERT INTO {table} (username, attempts, in_flight, failures, locked_until)"
                    " VALUES (?, 1, 1, 0, ?) ON CONFLICT (username) DO UPDATE"
                    f" SET attempts = {table}.attempts + 1, in_flight = {table}.in_flight + 1,"
                    f" locked_until = CASE WHEN {table}.attempts + 1 >= ? THEN ?"
                    f" ELSE {table}.locked_until END"
                    f" WHERE {table}.attempts < ? RETURNING failures"
                ),
                (
                    username,
                    lock_until if MAX_FAILURES <= 1 else 0,
                    MAX_FAILURES,
                    lock_until,
                    MAX_FAILURES,
                ),
            ).fetchone()
            if claimed is not None:
                return int(claimed[0])
            row = conn.execute(
                self.db.sql(f"SELECT locked_until FROM {table} WHERE username = ?"), (username,)
            ).fetchone()
        locked_until = float(row[0]) if row is not None else lock_until
        log.warning("portal sign-in attempt refused: name locked", username=username)
        raise SignInLocked(max(1.0, locked_until - now))

    def _settle_attempt(self, username: str, failures_seen: int, *, right: bool) -> None:
        """End an attempt. A wrong password is recorded (its slot stays taken). A right one
        clears the count only if it raced nothing: it is the only attempt in flight and no
        failure was recorded since it claimed its slot; otherwise the slots and any lock stay
        as they are (the user is signed in all the same)."""
        table = "portal_sign_in_attempts"
        in_flight = "CASE WHEN in_flight > 0 THEN in_flight - 1 ELSE 0 END"
        with self.db.connect() as conn:
            if not right:
                conn.execute(
                    self.db.sql(
                        f"UPDATE {table} SET in_flight = {in_flight}, failures = failures + 1"
                        " WHERE username = ?"
                    ),
                    (username,),
                )
                return
            alone = "in_flight = 1 AND failures = ?"
            conn.execute(
                self.db.sql(
                    f"UPDATE {table} SET in_flight = {in_flight},"
                    f" attempts = CASE WHEN {alone} THEN 0 ELSE attempts END,"
                    f" locked_until = CASE WHEN {alone} THEN 0 ELSE locked_until END"
                    " WHERE username = ?"
                ),
                (failures_seen, failures_seen, username),
            )

    def sign_in_record(self, username: str) -> SignInRecord:
        """The attempt counts of ``username`` (all zero when it was never tried)."""
        if not _plausible_username(username.strip()):
            return SignInRecord(0, 0, 0, 0.0)
        with self.db.connect(write=False) as conn:
            row: Any = conn.execute(
                self.db.sql(
                    "SELECT attempts, in_flight, failures, locked_until"
                    " FROM portal_sign_in_attempts WHERE username = ?"
                ),
                (username.strip(),),
            ).fetchone()
        if row is None:
            return SignInRecord(0, 0, 0, 0.0)
        return SignInRecord(int(row[0]), int(row[1]), int(row[2]), float(row[3]))

    def set_password(self, username: str, password: str) -> None:
        """A new password for USERNAME; their sessions end (they sign in with it again)."""
        _check_new_password(password)
        if not _plausible_username(username):
            raise NotFound(f"no user called {username!r}")
        with self.db.connect() as conn:
            cursor = conn.execute(
                self.db.sql("UPDATE portal_users SET password_hash = ? WHERE username = ?"),
                (hash_password(password), username),
            )
            if cursor.rowcount != 1:
                raise NotFound(f"no user called {username!r}")
            conn.execute(self.db.sql("DELETE FROM portal_sessions WHERE username = ?"), (username,))
            conn.execute(
                self.db.sql("DELETE FROM portal_sign_in_attempts WHERE username = ?"), (username,)
            )

    # --------------------------------------------------------------- sessions

    def start_session(self, user: User) -> tuple[str, Session]:
        """A new session; returns the cookie token (never stored) and the session."""
        token = tagged(self.tenant, secrets.token_urlsafe(32))
        csrf = secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + self.idle_seconds
        with self.db.connect() as conn:
            # sessions past their expiry are useless: clear them while we are writing anyway
            conn.execute(self.db.sql("DELETE FROM portal_sessions WHERE expires_at < ?"), (now,))
            conn.execute(
                self.db.sql(
                    "INSERT INTO portal_sessions"
                    " (token_hash, username, csrf_token, created_at, expires_at)"
                    " VALUES (?, ?, ?, ?, ?)"
                ),
                (_token_hash(token), user.username, csrf, now, expires),
            )
        return token, Session(user, csrf, expires)

    def session(self, token: str) -> Session | None:
        """The live session of ``token`` (its expiry slides on use), or None."""
        now = self.clock()
        key = _token_hash(token)
        with self.db.connect() as conn:
            row = conn.execute(
                self.db.sql(
                    "SELECT u.username, u.role, u.created_at, s.csrf_token, s.created_at,"
                    " s.expires_at FROM portal_sessions s"
                    " JOIN portal_users u ON u.username = s.username WHERE s.token_hash = ?"
                ),
                (key,),
            ).fetchone()
            if row is None:
                return None
            created, expires = float(row[4]), float(row[5])
            if now >= expires:
                conn.execute(
                    self.db.sql("DELETE FROM portal_sessions WHERE token_hash = ?"), (key,)
                )
                return None
            # idle expiry slides forward on use, never past the session's absolute limit;
            # written at most once a minute so reading pages does not write on every request
            renewed = min(now + self.idle_seconds, created + self.max_seconds)
            if renewed - expires > 60:
                conn.execute(
                    self.db.sql("UPDATE portal_sessions SET expires_at = ? WHERE token_hash = ?"),
                    (renewed, key),
                )
                expires = renewed
        user = User(str(row[0]), cast(Role, row[1]), str(row[2]))
        return Session(user, str(row[3]), expires)

    def end_session(self, token: str) -> None:
        with self.db.connect() as conn:
            conn.execute(
                self.db.sql("DELETE FROM portal_sessions WHERE token_hash = ?"),
                (_token_hash(token),),
            )
