"""What every CLI command shares: the ledger, the actor, output mode, and input parsing."""

from __future__ import annotations

import gc
import getpass
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from domain.errors import InvalidDate, InvalidInput

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from adapters.ledger.application import Ledger

# Imported when used, not here: every command imports this module, and ``tollbook --help``
# (and a command answering in JSON) needs neither the ledger nor rich.

F = TypeVar("F", bound=Callable[..., Any])

#: the largest id or version a store column holds (PostgreSQL bigint, SQLite INTEGER)
MAX_ID = 2**63 - 1


#: the store of the command running (its context is gone when its error is reported):
#: ``url``, and ``what`` when it is not a ledger's store (the tenant directory)
ACTING_ON: dict[str, str] = {}


def acting_on(url: str, what: str = "") -> None:
    """Name the database a command is about to use, for the message should it fail."""
    ACTING_ON["url"] = url
    if what:
        ACTING_ON["what"] = what
    else:
        ACTING_ON.pop("what", None)


def directory_acting_on() -> None:
    """The tenant directory is next: a control database that does not answer is named as such,
    not as the default store the command never touched."""
    from adapters.config import control_database_url

    url = control_database_url()
    if url is not None:
        acting_on(url, "tenant directory")


class CliState:
    """The state every command of one run shares. (A plain class: making a dataclass costs
    every start ~0.5 ms of CPU.)"""

    def __init__(
        self,
        given_url: str | None,
        actor: str,
        clock: Callable[[], datetime] | None = None,
        tenant: str | None = None,
    ) -> None:
        #: ``--db`` / ``TOLLBOOK_DATABASE_URL`` as given (None: the default store)
        self.given_url = given_url
        self.actor = actor
        # The real clock (None), except where a test or a scripted run injects one
        # (main(clock=...)).
        self.clock = clock
        #: ``--tenant`` / ``TOLLBOOK_TENANT``: whose store every command acts on
        #: (docs/scaling.md)
        self.tenant = tenant
        self._ledger: Ledger | None = None
        self._tenant_url: str | None = None

    @property
    def database_url(self) -> str | None:
        """The store the command acts on: the tenant's, as the directory says, when a tenant
        is named; else ``--db`` (None: the default). Looked up when first needed, so the
        commands that manage the directory itself never need the tenant to exist."""
        if self.tenant is None:
            return self.given_url
        if self._tenant_url is None:
            from adapters.config import open_directory, tenant_database_url
            from domain.tenancy import tenant_name

            name = tenant_name(self.tenant)
            directory_acting_on()
            self._tenant_url = tenant_database_url(name, open_directory())
            acting_on(self._tenant_url)
        return self._tenant_url

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            from adapters.config import build_ledger

            if self.clock is None:
                self._ledger = build_ledger(self.database_url)
            else:
                self._ledger = build_ledger(self.database_url, clock=self.clock)
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


def default_actor() -> str:
    if os.environ.get("TOLLBOOK_ACTOR"):
        return os.environ["TOLLBOOK_ACTOR"]
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def state() -> CliState:
    obj = click.get_current_context().find_root().obj
    assert isinstance(obj, CliState)
    return obj


def json_option(func: F) -> F:
    """Add ``--json``: print a machine-readable document instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(func)


# compiled (and cached by ``re``) on first use: only a command with numeric arguments needs it
NEGATIVE_NUMBER = r"-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"


class NumericArgsCommand(click.Command):
    """A command whose positional arguments may be negative numbers (``refund P -5``), so the
    domain refuses them with its own rule instead of the parser taking ``-5`` for an option.

    Unknown options are still refused as such: only tokens that read as numbers pass through.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["context_settings"] = {
            **(kwargs.get("context_settings") or {}),
            "ignore_unknown_options": True,
        }
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.resilient_parsing:  # shell completion: never refuse
            return super().parse_args(ctx, args)
        values, extra, _ = self.make_parser(ctx).parse_args(args=list(args))
        # what the parser let through as positional: argument values and extra tokens
        tokens: list[object] = list(extra)
        for param in self.params:
            if isinstance(param, click.Argument):
                value = values.get(param.name)
                tokens.extend(value if isinstance(value, (list, tuple)) else [value])
        for token in tokens:
            if (
                isinstance(token, str)
                and token.startswith("-")
                and token != "-"
                and not re.fullmatch(NEGATIVE_NUMBER, token)
            ):
                raise click.NoSuchOption(token.partition("=")[0], ctx=ctx)
        return super().parse_args(ctx, args)


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def emit_json(document: Any) -> None:
    click.echo(json.dumps(document, default=_default, indent=2, ensure_ascii=False))


_console: Console | None = None


def __getattr__(name: str) -> Any:
    """``console``: the terminal the tables go to, made (and rich imported) on first use."""
    if name == "console":
        return get_console()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_console() -> Console:
    global _console
    if _console is None:
        # rich's modules (the table's and the text's too) are imported with the cyclic collector
        # paused: importing them makes objects that live as long as the process, yet would set
        # the collector off a dozen times (~1.5 ms of CPU); what the import leaves as garbage is
        # collected as usual once it resumes
        with _collector_paused():
            from rich.console import Console
            from rich.table import Table  # noqa: F401  (for table(), under the same pause)
            from rich.text import Text  # noqa: F401  (for _as_rich())
        _console = Console(highlight=False, soft_wrap=False, width=140)
    return _console


@contextmanager
def _collector_paused() -> Iterator[None]:
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


if TYPE_CHECKING:
    console: Console


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A readable table; numeric-looking columns are right-aligned."""
    console = get_console()  # rich imported
    from rich.table import Table

    grid = Table(
        title=_as_rich(title, "table.title") if title else title,
        title_justify="left",
        show_lines=False,
    )
    for index, column in enumerate(columns):
        numeric = bool(rows) and all(_is_number(row[index]) for row in rows if row[index] != "")
        grid.add_column(_as_rich(column), justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        grid.add_row(*("" if cell is None else _as_rich(shown(str(cell))) for cell in row))
    console.print(grid)


def _is_plain(text: str) -> bool:
    """Whether rich shows ``text`` as it is: a markup tag needs a ``[`` and an emoji code
    (``:name:``) two colons."""
    return "[" not in text and text.count(":") < 2


def _as_rich(text: str, style: str = "") -> str | Text:
    """The ``Text`` rich makes of a plain string (``Console.render_str``: no markup, no emoji
    code, not highlighted), made here: rich's emoji table (~2 ms to import) is then loaded
    only when a text could hold an emoji code. Any other string goes to rich as it is."""
    if not _is_plain(text):
        return text
    from rich.text import Text

    return Text(text, style=style)


#: A table cell shows at most this many characters (a stored megabyte took seconds to lay out).
MAX_CELL = 1_000
# C0 controls but tab and line feed, DEL, C1, bidirectional embeddings/overrides/isolates: a
# stored ANSI escape must not rewrite the user's terminal, nor an override reorder a row
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def shown(text: str) -> str:
    """A stored text as a terminal may show it: control characters escaped, length capped."""
    if len(text) > MAX_CELL:
        text = f"{text[:MAX_CELL]}… ({len(text):,} characters)"
    return _UNSAFE.sub(lambda found: ascii(found.group())[1:-1], text)


_DIGITS = frozenset("0123456789")


def _is_number(value: object) -> bool:
    if isinstance(value, (int, Decimal)):
        return True
    if not _DIGITS.intersection(str(value)):  # a plain decimal has a digit: no money imported
        return False
    from domain.decimal_text import parse_decimal

    try:
        parse_decimal(str(value))
    except InvalidInput:
        return False
    return True


def say(message: str) -> None:
    # no emoji code fits in fewer than two colons: rich's emoji table is not loaded for nothing
    get_console().print(message, emoji=None if message.count(":") >= 2 else False)


# ------------------------------------------------------------------ input parsing


def amount_arg(value: str | None, what: str = "amount") -> Decimal | None:
    from domain.decimal_text import parse_decimal

    return None if value is None else parse_decimal(value, what=what)


def date_arg(value: str | None, what: str = "date") -> date | None:
    from domain.values import parse_date

    return None if value is None else parse_date(value, what=what)


def timestamp_arg(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidDate(
            f"timestamp must be ISO 8601 with a zone, like 2026-11-01T12:00:00Z: {value!r}"
        ) from None
    if moment.tzinfo is None:
        raise InvalidDate(f"timestamp needs a time zone (append Z for UTC): {value!r}")
    return moment


def passes_state(func: F) -> F:
    """Hand the command the ledger and actor as its first two arguments."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        current = state()
        return func(current.ledger, current.actor, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
