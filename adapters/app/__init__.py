"""What the entry points share, below all of them: the running service's context (ledger,
database, adapter tables), API keys, Idempotency-Key records, portal users, the read models'
health and the bounds of dates and positions arriving from outside.

Nothing here imports an entry point (CLI, HTTP, portal, scheduler) or the service that hosts
them (.importlinter, docs/architecture.md "Dependency rules")."""
