"""The scheduler: APScheduler jobs kept in the ledger's own database (see docs/scheduler.md)."""
