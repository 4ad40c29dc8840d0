"""The HTTP API (FastAPI): every ledger use case, the event feed and webhook management."""
