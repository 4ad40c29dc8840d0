"""The ``tollbook`` command: parses input, calls the ledger, maps errors to exit codes.

Exit codes: 0 ok; 1 a business rule refused the command; 2 bad input (click's usage errors
included); 3 not found; 4 concurrent change that retries could not settle; 5 configuration or
storage unavailable (the store down, or read-only while it is moved); 70 an unexpected error
(a bug). Every refusal is one line on stderr:
``error: <message> [<code>]``.
"""

from __future__ import annotations

import gc

# The start-up's imports (click's, ours) run with the cyclic collector paused, and what exists
# once they are done is frozen (``gc.freeze``): modules, classes, functions and click's objects,
# which live as long as the process, so no later collection (nor the last one, at exit) walks
# them again; a command's own objects, made after, are collected as usual. ~15 ms of CPU per
# start (docs/performance.md, "CLI start"). Nothing that holds a file or a connection exists yet
# when this module is imported first, as the console script does.
_collecting = gc.isenabled()
gc.disable()
try:
    import sys
    from collections.abc import Callable
    from datetime import datetime
    from typing import TYPE_CHECKING, NoReturn

    import click
    from click.core import ParameterSource

    from adapters.cli.context import ACTING_ON, CliState, default_actor
    from adapters.cli.registry import LazyGroup
    from adapters.config_error import ConfigError
    from domain.errors import (
        BillingError,
        ConcurrencyConflict,
        InvalidInput,
        NotFound,
        Unavailable,
    )
finally:
    gc.freeze()
    if _collecting:
        gc.enable()

if TYPE_CHECKING:
    import logging

EXIT_RULE, EXIT_INPUT, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_CONFIG = 1, 2, 3, 4, 5
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a bug, not a refusal


# Every command is imported when it runs (or its own help is asked for), never at start:
# adapters/cli/registry.py says where each lives and holds the help ``tollbook --help`` lists.
@click.group(
    cls=LazyGroup,
    lazy_path="",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--db",
    "database_url",
    envvar="TOLLBOOK_DATABASE_URL",
    help="Store URL (default sqlite:///var/tollbook.sqlite; env TOLLBOOK_DATABASE_URL).",
)
@click.option(
    "--tenant",
    envvar="TOLLBOOK_TENANT",
    metavar="NAME",
    help="Act for this tenant: its store, as the tenant directory says (needs"
    " TOLLBOOK_CONTROL_DATABASE_URL; env TOLLBOOK_TENANT; docs/scaling.md).",
)
@click.option("--actor", default=default_actor, help="Who is acting (recorded on every event).")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, tenant: str | None, actor: str) -> None:
    """tollbook: the event-sourced billing ledger."""
    # structlog is configured when first imported (adapters/logging.py): a command that never
    # logs never pays for it, and ``--help`` (which never gets here) not even for logging
    from adapters.logging import configure_logging_on_import

    configure_logging_on_import()
    injected = ctx.obj if isinstance(ctx.obj, CliState) else None  # main(clock=...)
    if (
        tenant is not None
        and ctx.get_parameter_source("database_url") is ParameterSource.COMMANDLINE
    ):
        raise click.UsageError("--db and --tenant: the tenant's store is the directory's to say")
    ctx.obj = CliState(given_url=database_url, actor=actor, tenant=tenant or None)
    ACTING_ON["url"] = database_url or ""  # a tenant's store, once resolved (CliState)
    ACTING_ON.pop("what", None)
    if injected is not None:
        ctx.obj.clock = injected.clock
    ctx.call_on_close(ctx.obj.close)


def exit_code(error: BillingError) -> int:
    if isinstance(error, InvalidInput):
        return EXIT_INPUT
    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, ConcurrencyConflict):
        return EXIT_CONFLICT
    if isinstance(error, Unavailable):  # the store cannot take it now, as when it is down
        return EXIT_CONFIG
    return EXIT_RULE


def main(argv: list[str] | None = None, *, clock: Callable[[], datetime] | None = None) -> None:
    """Run the command line; ``clock`` replaces the real clock (tests, scripted runs)."""
    injected = None if clock is None else CliState(given_url=None, actor="", clock=clock)
    try:
        cli.main(args=argv, prog_name="tollbook", standalone_mode=False, obj=injected)
    except click.exceptions.NoArgsIsHelpError as error:  # a bare group: its help, as asked
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        refuse("aborted", "aborted", EXIT_RULE)
    except click.UsageError as error:  # missing/unknown option, bad value, extra argument
        where = error.ctx.command_path if error.ctx is not None else "tollbook"
        refuse(f"{where}: {error.format_message()}", "usage", EXIT_INPUT)
    except click.ClickException as error:  # e.g. tampering found, differences found
        refuse(error.format_message(), getattr(error, "code", "refused"), error.exit_code)
    except BillingError as error:
        _log().info("command refused", extra={"context": {"code": error.code, "error": str(error)}})
        where = f" ({_store()})" if isinstance(error, Unavailable) else ""
        refuse(f"{error}{where}", error.code, exit_code(error))
    except ConfigError as error:
        refuse(str(error), "config", EXIT_CONFIG)
    except OSError as error:
        if error.filename is None:
            raise
        # a file named on the command line that cannot be read or written
        refuse(f"{error.strerror or error}: {error.filename}", "file", EXIT_INPUT)
    except Exception as error:  # storage down, etc.: one line, not a traceback
        if _is_validation_error(error):
            problems = "; ".join(
                f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}"
                for item in error.errors()  # type: ignore[attr-defined]
            )
            refuse(f"invalid input: {problems}", "invalid_input", EXIT_INPUT)
        from adapters.store.read_only_refusal import store_read_only

        refusal = store_read_only(error)  # a table of a store marked read-only
        if refusal is not None:
            refuse(f"{refusal} ({_store()})", refusal.code, EXIT_CONFIG)
        if type(error).__module__.startswith(("psycopg", "eventsourcing", "sqlite3")):
            # the driver's message runs over several indented lines: one line of words here
            said = " ".join(str(error).split())
            refuse(f"storage unavailable ({_store()}): {said}", "storage", EXIT_CONFIG)
        # a bug: say so in one line; the traceback is for whoever debugs it
        _log().debug("unexpected error", exc_info=True)
        refuse(
            f"unexpected error ({type(error).__name__}: {error});"
            " TOLLBOOK_LOG_LEVEL=debug shows where",
            "internal",
            EXIT_INTERNAL,
        )


def _store() -> str:
    """The store the command was acting on, as fit for a message (no password): the tenant
    directory while a command reads it, then the tenant's store."""
    from adapters.store.settings import database_url, describe_url

    shown = describe_url(ACTING_ON.get("url") or database_url())
    return f"{ACTING_ON.get('what') or 'store'} {shown}"


def _log() -> logging.Logger:
    """The CLI's logger, routed through structlog (adapters/logging.py)."""
    import logging

    return logging.getLogger("tollbook.cli")


def _is_validation_error(error: Exception) -> bool:
    """A pydantic ValidationError: pydantic is not imported to ask (``--help`` never loads it);
    an error of its kind can only exist once it has been."""
    pydantic_core = sys.modules.get("pydantic_core")
    return pydantic_core is not None and isinstance(error, pydantic_core.ValidationError)


def refuse(message: str, code: str, status: int) -> NoReturn:
    """Every refusal looks the same: one line on stderr, a stable code, a specific exit."""
    click.echo(f"error: {one_line(message)} [{code}]", err=True)
    sys.exit(status)


def one_line(text: str) -> str:
    """Control and format characters escaped: input echoed in a message can neither break the
    line nor steer the terminal (ANSI escapes, right-to-left overrides)."""
    import unicodedata  # only for a refusal: every start would pay for it

    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
        else ch
        for ch in text
    )


if __name__ == "__main__":
    main()
