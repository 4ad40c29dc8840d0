"""How many rows one page of a list holds: the default and the most
(adapters/queries/paging.py enforces them). Apart from the paging code so that a command
module declaring ``--limit`` for its list commands (``adapters/cli/invoices.py``, which
``invoice show`` imports) imports none of it."""

#: rows per page when the caller names no limit, and the most one page may hold
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
