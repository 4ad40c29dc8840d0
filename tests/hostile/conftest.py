"""The hostile tier: what an attacker or a clumsy user sends, on every surface.

Every test here asserts the exact refusal (exit code, or HTTP status and problem type) and that
the number of stored events did not change (``tests.helpers.event_count``).
"""

from tests.e2e.conftest import tollbook  # noqa: F401  (the CLI runner, on the test's store)
from tests.relay.conftest import local_stream  # noqa: F401  (a unique stream on the local NATS)
