"""Backups that prove themselves: ``tollbook backup`` and ``tollbook restore``.

A backup is a folder: ``manifest.json`` (where the log ends, its hash-chain head, counts,
the sha256 of every file) beside JSON Lines files in one format for both stores — the events
with their chain links, the usage CDRs, and tollbook's own tables that hold what cannot be
derived from the events. An increment (``--since MANIFEST``) holds the events after its base
and names the base's position and chain head, so a restore proves the pieces continuous.
docs/operations.md ("Backups and restores") is the operator's guide.
"""
