"""The relay: every event of the ledger published to a NATS JetStream stream, exactly once.

- ``subjects``: the subject scheme, message id and headers (docs/integrators.md).
- ``stream``: the stream (created when missing) and where it says publishing stopped.
- ``publisher``: follows the notification log and publishes, resuming after a crash.

Exactly once: each message carries ``Nats-Msg-Id: <tenant>:<position>``, so JetStream drops a
re-publish inside its duplicate window; beyond it, the relay never re-publishes because it
resumes strictly after the position in the stream's last message of the tenant (the stream is
the relay's only record of progress: nothing can disagree with it).
"""
