"""``tollbook doctor``: is this deployment fit to run? (adapters/app/doctor.py holds the
checks; docs/operations.md says what each one means.)"""

from __future__ import annotations

import click

from adapters.app.doctor import examine
from adapters.cli.context import emit_json, json_option, say, state, table
from adapters.config import ConfigError, database_url


class ProblemsFound(click.ClickException):
    """A check failed: exit 1, after the table (or the JSON) said which and how to fix it."""

    exit_code = 1
    code = "problems_found"


@click.command("doctor")
@json_option
def doctor(as_json: bool) -> None:
    """Check the deployment: database and schema version, clock skew against the database,
    PDF fonts, SMTP, accounting credentials and NATS where configured. Exits 1 when one fails."""
    try:
        findings = examine(state().database_url or database_url())
    except ValueError as error:  # memory:// has no database to check
        raise ConfigError(str(error)) from None
    if as_json:
        emit_json([finding.doc() for finding in findings])
    else:
        rows = [(f.check, f.status, f.detail, f.fix) for f in findings]
        table("tollbook doctor", ["check", "status", "found", "how to fix"], rows)
    failed = [f.check for f in findings if f.status == "fail"]
    if failed:
        raise ProblemsFound(f"{len(failed)} check(s) failed: {', '.join(failed)}")
    if not as_json:
        warned = any(f.status == "warn" for f in findings)
        say("every check passed" + (" (with warnings)" if warned else ""))
