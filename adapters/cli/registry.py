"""Which module holds each ``tollbook`` command, so a command's module is imported only when
that command runs (``tollbook --help`` imports none of them).

A command is registered here by its path (``"invoice"``, ``"invoice pdf"``) with where it lives
(``"module:attribute"``) and its help's first paragraph, which ``--help`` lists without importing
the module. tests/unit/test_cli_registry.py checks that each entry loads and that its help here
is the command's own, so the listing never drifts from the commands.

To add a top-level command: write it in its own module (``@click.command()`` or
``@click.group()``) and add one line to ``COMMANDS``. To add a lazy subcommand to a group of
another module (``invoice pdf``), give that group ``cls=LazyGroup, lazy_path="invoice"`` and add
``"invoice NAME"`` here. A subcommand declared in its group's own module (``usage purge``) needs
no entry: it loads with its group.

This module imports nothing but click: it runs on every start.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import click


class Lazy(NamedTuple):  # not a dataclass: making one costs every start ~0.8 ms of CPU
    """A command not imported yet: where it lives and the first paragraph of its help."""

    target: str  # "package.module:attribute"
    help: str

    def load(self) -> click.Command:
        module_name, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command

    def placeholder(self, name: str) -> click.Command:
        """A stand-in that lists the command in its group's help as the real one would."""
        return click.Command(name, help=self.help)


# path -> where the command lives and its help (first paragraph); sorted by path.
COMMANDS: dict[str, Lazy] = {
    "aged": Lazy(
        "adapters.cli.reports:aged",
        "Aged receivables per customer: current, 1-30, 31-60, 61-90, 90+ days overdue.",
    ),
    "apikey": Lazy(
        "adapters.cli.service:apikey",
        "API keys for the HTTP API: scoped read, write or admin; stored hashed.",
    ),
    "audit": Lazy("adapters.cli.audit:audit", "Tamper evidence and export of the event log."),
    "backup": Lazy(
        "adapters.cli.backup:backup",
        "Write a consistent backup of the store to a folder, with a manifest: last position,"
        " hash-chain head, events per type, sha256 of each file. --since writes an increment.",
    ),
    "balance": Lazy(
        "adapters.cli.payments:balance",
        "Balances per customer and currency, from the balances read model (caught up first),"
        " by customer account then currency (a page at a time).",
    ),
    "bill": Lazy(
        "adapters.cli.usage:bill",
        "Billing run: one invoice per customer with usage or packages in the period.",
    ),
    "credit-note": Lazy(
        "adapters.cli.invoices:credit_note", "Credit notes: corrections to issued invoices."
    ),
    "credit-note pdf": Lazy(
        "adapters.cli.pdf:credit_note_pdf", "Write the PDF of credit note REF (number or id)."
    ),
    "credit-note send": Lazy(
        "adapters.cli.mail:credit_note_send",
        "E-mail a credit note with its PDF attached (SMTP: TOLLBOOK_SMTP_*).",
    ),
    "customer": Lazy(
        "adapters.cli.customers:customer",
        "Customers: who is billed, in which currency, with which tax and terms.",
    ),
    "customer statement": Lazy(
        "adapters.cli.statements:statement",
        "A customer's statement of account from --from to --to: opening balance, every invoice,"
        " credit note, payment and refund with a running balance, closing balance, aged buckets.",
    ),
    "demo": Lazy(
        "adapters.cli.demo:demo",
        "Run a scripted billing cycle on a fresh embedded store and print what happens.",
    ),
    "doctor": Lazy(
        "adapters.cli.doctor:doctor",
        "Check the deployment: database and schema version, clock skew against the database,"
        " PDF fonts, SMTP, accounting credentials and NATS where configured. Exits 1 when one"
        " fails.",
    ),
    "export": Lazy(
        "adapters.cli.exports:export",
        "Accounting exports: each connection follows the ledger and replays it exactly once.",
    ),
    "invoice": Lazy(
        "adapters.cli.invoices:invoice",
        "Invoices: drafts, lines, issue, void, show, list, history.",
    ),
    "invoice pdf": Lazy(
        "adapters.cli.pdf:invoice_pdf",
        "Write the PDF of INVOICE_REF, or of every invoice of a month with --all.",
    ),
    "invoice send": Lazy(
        "adapters.cli.mail:invoice_send",
        "E-mail an issued invoice with its PDF attached (SMTP: TOLLBOOK_SMTP_*).",
    ),
    "invoice remind": Lazy(
        "adapters.cli.mail:invoice_remind",
        "Dunning run: e-mail each open invoice the reminder its customer's schedule has due.",
    ),
    "invoice retry-sends": Lazy(
        "adapters.cli.mail:invoice_retry_sends",
        "Attempt again every failed invoice, credit-note or statement e-mail whose back-off has"
        " passed.",
    ),
    "invoice verify-pdf": Lazy(
        "adapters.cli.pdf:verify_pdf",
        "Check a PDF's signature and that it is the ledger's invoice or credit note.",
    ),
    "migrate": Lazy(
        "adapters.cli.migrate:migrate_command",
        "Apply the pending schema migration steps (each once, in its own transaction).",
    ),
    "node": Lazy(
        "adapters.cli.tenants:node",
        "Nodes: the PostgreSQL databases (or SQLite folders) that hold tenants' stores.",
    ),
    "package": Lazy(
        "adapters.cli.packages:package",
        "Packages: recurring and one-off charges that fill invoice lines.",
    ),
    "payment": Lazy(
        "adapters.cli.payments:payment",
        "Payments: record, complete, cancel, allocate, unallocate, refund.",
    ),
    "projections": Lazy(
        "adapters.cli.projections:projections",
        "Read models (balances, payment history, invoice register, aged receivables).",
    ),
    "reconcile": Lazy(
        "adapters.cli.reports:reconcile",
        "Recompute every balance from the events and compare with the read models and with"
        " each invoice's own state. Exits 1 when anything differs.",
    ),
    "relay": Lazy(
        "adapters.cli.relay:relay",
        "Publish every event to a NATS JetStream stream, exactly once, resuming where the stream"
        ' stopped (docs/integrators.md "Events on NATS JetStream").',
    ),
    "restore": Lazy(
        "adapters.cli.backup:restore",
        "Restore a full backup and its increments (in order) into an EMPTY database; verify"
        " checksums and the chain across pieces, rebuild the read models, reconcile; one verdict.",
    ),
    "schedule": Lazy(
        "adapters.cli.schedule:schedule",
        "Automatic invoice schedules (run by `tollbook serve`; see docs/scheduler.md).",
    ),
    "serve": Lazy(
        "adapters.cli.service:serve",
        "Run the HTTP API and the background workers: read models, the scheduler (invoice"
        " schedules, accounting exports, webhook delivery).",
    ),
    "settings": Lazy(
        "adapters.cli.settings:settings",
        "The seller's settings: company, tax defaults, numbering, line grouping.",
    ),
    "store": Lazy(
        "adapters.cli.store:store",
        "The store itself: copy it to another database with proof, read-only marks.",
    ),
    "tenant": Lazy(
        "adapters.cli.tenants:tenant",
        "Tenants: one seller each, with its own store on a node (docs/scaling.md).",
    ),
    "usage": Lazy(
        "adapters.cli.usage:usage",
        "Usage records (CDRs): import them, re-rate them, purge old months.",
    ),
    "user": Lazy(
        "adapters.cli.users:user",
        "Portal users: finance and admin change things, auditors only read. Passwords hashed.",
    ),
    "webhook": Lazy(
        "adapters.cli.service:webhook",
        "Webhook subscriptions for integrators, and their delivery log.",
    ),
}


def children(path: str) -> dict[str, Lazy]:
    """The registered subcommands of the group at ``path`` ("" for ``tollbook`` itself)."""
    prefix = f"{path} " if path else ""
    return {
        key[len(prefix) :]: entry
        for key, entry in COMMANDS.items()
        if key.startswith(prefix) and " " not in key[len(prefix) :]
    }


class LazyGroup(click.Group):
    """A group whose registered subcommands are imported when one is run or asked for help.

    ``lazy_path`` names the group in ``COMMANDS`` ("" for the root). Subcommands added the
    usual way (``@group.command()``) work as in any group.
    """

    def __init__(self, *args: Any, lazy_path: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_path = lazy_path

    def lazy_commands(self) -> dict[str, Lazy]:
        return children(self.lazy_path)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        entry = self.lazy_commands().get(cmd_name)
        if entry is None:
            return None
        command = entry.load()
        self.commands[cmd_name] = command  # loaded once
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, but a command not loaded yet is listed with its registered help."""
        lazy = self.lazy_commands()
        commands: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name) or lazy[name].placeholder(name)
            if not command.hidden:
                commands.append((name, command))
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            rows = [(name, command.get_short_help_str(limit)) for name, command in commands]
            with formatter.section("Commands"):
                formatter.write_dl(rows)
