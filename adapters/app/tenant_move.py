"""``tollbook tenant move NAME --to NODE``: a tenant's store copied to another node with proof,
then the directory switched.

The copy is ``move_store`` (adapters/app/store_move.py): the source read-only from the start
(a write then is refused with ``store_read_only``, never lost), a full backup restored into
the empty target, both chains walked and compared (same position, same chain head, same
count of events). Only then does the directory name the new node, in one statement that
checks the tenant is still where the copy was taken from. The source stays read-only: it is
the old copy, kept until the operator drops it. A service of many tenants notices the switch
within ``REVALIDATE_SECONDS`` (adapters/service/tenants.py); the tenant's worker and relay
processes are restarted by the operator (their store URL was resolved when they started).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from adapters.app.store_move import MoveReport, Progress, move_store
from adapters.tenancy.directory import Directory, Tenant
from domain.errors import AlreadyExists

log = structlog.get_logger("tollbook.tenancy")


@dataclass(frozen=True)
class TenantMove:
    before: Tenant
    after: Tenant
    copy: MoveReport

    def doc(self) -> dict[str, Any]:
        return {
            "tenant": self.after.name,
            "from_node": self.before.node.name,
            "to_node": self.after.node.name,
            "store": self.after.schema,
        } | self.copy.doc()


def move_tenant(
    directory: Directory, name: str, to_node: str, *, progress: Progress | None = None
) -> TenantMove:
    before = directory.tenant(name)  # NotFound: no such tenant
    target = directory.node(to_node)  # NotFound: no such node
    if before.node.name == target.name:
        raise AlreadyExists(f"tenant {name!r} is on node {to_node!r} already", field="node")
    after = Tenant(before.name, target, before.added_at)
    log.info("tenant move started", tenant=name, from_node=before.node.name, to_node=to_node)
    report = move_store(before.store_url, after.store_url, progress=progress)
    directory.switch_node(name, before.node.name, target.name)
    log.info(
        "tenant moved",
        tenant=name,
        to_node=to_node,
        position=report.target_end.position,
        chain_head=report.target_end.chain_head,
    )
    return TenantMove(before, after, report)
