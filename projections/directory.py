"""Read model: the directory of customers and packages (``rm_directory_customer``,
``rm_directory_package``).

One row per customer (account number, latest name, currency) and per package (name,
currency), each with ``seq``, the log position of the event that created it, which orders
lists and pages. Lists of customers and packages in the CLI, the HTTP API and the portal read
these rows (adapters/queries) instead of folding every customer's or package's events.
"""

from __future__ import annotations

from datetime import date

from domain.customer import Customer
from domain.package import Package
from projections.view import Projection, Table, ViewWriter, id_text, on

CUSTOMERS = Table(
    "rm_directory_customer",
    key=("customer_id",),
    columns={
        "customer_id": "text",
        "account_number": "text",
        "name": "text",
        # the effective date of ``name``: a later-dated change wins, as in Customer.latest
        "name_from": "date",
        "currency": "text",
        "seq": "int",
    },
    indexes=(("seq",), ("account_number",)),
)
PACKAGES = Table(
    "rm_directory_package",
    key=("package_id",),
    columns={"package_id": "text", "name": "text", "currency": "text", "seq": "int"},
    indexes=(("seq",), ("currency", "seq")),
)


class Directory(Projection):
    """Customers and packages, in the order they were created."""

    name = "directory"
    tables = (CUSTOMERS, PACKAGES)

    @on(Customer.Registered, "profile")
    def _registered(self, event: Customer.Registered, position: int, view: ViewWriter) -> None:
        profile = event.profile
        view.put(
            CUSTOMERS,
            {
                "customer_id": id_text(event.originator_id),
                "account_number": profile.account_number,
                "name": profile.name,
                "name_from": date.min,
                "currency": profile.currency,
                "seq": position,
            },
        )

    @on(Customer.BillingDetailsChanged, "effective_from", "after")
    def _details(
        self, event: Customer.BillingDetailsChanged, position: int, view: ViewWriter
    ) -> None:
        if "name" not in event.after:
            return
        row = view.get(CUSTOMERS, id_text(event.originator_id))
        if row is None:  # the log always registers a customer first: a gap is corruption
            raise LookupError(f"{CUSTOMERS.name}: customer {event.originator_id} never registered")
        # Customer.latest applies changes in effective-date order, later events last on a tie
        if event.effective_from >= row["name_from"]:
            row["name"] = event.after["name"]
            row["name_from"] = event.effective_from
            view.put(CUSTOMERS, row)

    @on(Package.Defined, "terms")
    def _defined(self, event: Package.Defined, position: int, view: ViewWriter) -> None:
        view.put(
            PACKAGES,
            {
                "package_id": id_text(event.originator_id),
                "name": event.terms.name,
                "currency": event.terms.currency,
                "seq": position,
            },
        )

    @on(Package.TermsChanged, "after")
    def _changed(self, event: Package.TermsChanged, position: int, view: ViewWriter) -> None:
        if not {"name", "currency"} & set(event.after):
            return
        row = view.get(PACKAGES, id_text(event.originator_id))
        if row is None:
            raise LookupError(f"{PACKAGES.name}: package {event.originator_id} never defined")
        row.update({k: v for k, v in event.after.items() if k in ("name", "currency")})
        view.put(PACKAGES, row)
