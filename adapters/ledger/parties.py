"""Use cases for the seller's settings, customers and packages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Unpack
from uuid import UUID, uuid4

from adapters.ledger.base import LedgerBase
from domain.changes import CustomerChanges, PackageChanges, SettingsChanges
from domain.customer import (
    Customer,
    CustomerProfile,
    NewCustomer,
    check_profile,
    customer_id_for,
)
from domain.errors import (
    AlreadyExists,
    CurrencyMismatch,
    NotFound,
)
from domain.line_tax import follow_rate
from domain.package import NewPackage, Package, PackageTerms, package_id_for
from domain.settings import SETTINGS_ID, AccountSettings, SellerSettings
from domain.statement import StatementDelivery, StatementFailure
from domain.tax_treatment import TaxTreatment, customer_defaults, tax_treatment


class PartyUseCases(LedgerBase):
    """Settings, customers, packages and package assignments."""

    # ---------------------------------------------------------------- settings

    def settings(self) -> SellerSettings:
        try:
            return self._get(AccountSettings, SETTINGS_ID, "settings").values
        except NotFound:
            return SellerSettings()

    def change_settings(self, changes: SettingsChanges, actor: str) -> SellerSettings:
        def command() -> SellerSettings:
            stamp = self.stamp(actor)
            try:
                account = self._get(AccountSettings, SETTINGS_ID, "settings")
                account.change(changes, stamp)
            except NotFound:
                account = AccountSettings.initialise(SellerSettings(), stamp)
                account.change(changes, stamp)
            self._save("settings changed", account)
            return account.values

        return self._retrying("change settings", command)

    # --------------------------------------------------------------- customers

    def register_customer(self, actor: str, **fields: Unpack[NewCustomer]) -> UUID:
        settings = self.settings()
        treatment = tax_treatment(fields.get("tax_treatment", TaxTreatment.STANDARD))
        defaults = {
            "currency": settings.default_currency,
            "tax_rate": settings.default_tax_rate,
            "tax_description": settings.default_tax_description,
            "payment_terms_days": settings.default_payment_terms_days,
            # a treatment without VAT: 0 % under its own name, not the seller's default
            **customer_defaults(treatment),
        }
        given = follow_rate(
            dict(fields),
            base_rate=defaults["tax_rate"],
            base_description=defaults["tax_description"],
            treatment=treatment,
        )
        profile = CustomerProfile.model_validate({**defaults, **given})
        check_profile(profile)
        customer = Customer.register(profile, self.stamp(actor))
        self._create(
            "customer registered",
            customer,
            AlreadyExists(
                f"customer account {profile.account_number!r} already exists",
                field="account_number",
            ),
        )
        return customer.id

    def customer(self, ref: str | UUID) -> Customer:
        """A customer by account number or id."""
        return self._by_key_or_id(Customer, ref, customer_id_for, "customer")

    def change_customer(
        self,
        ref: str | UUID,
        changes: CustomerChanges,
        actor: str,
        effective_from: date | None = None,
        reason: str | None = None,
        *,
        expected_version: int | None = None,
    ) -> None:
        def command() -> None:
            customer = self._at_version(self.customer(ref), expected_version, "customer")
            when = effective_from or self.today()
            customer.change(changes, when, self.stamp(actor, reason))
            self._save("customer changed", customer)

        self._retrying("change customer", command)

    def record_statement_sent(
        self, customer_ref: str | UUID, actor: str, sent: StatementDelivery
    ) -> bool:
        """``Customer.StatementSent`` once the SMTP server accepted a statement; False (nothing
        written) when that send request was already recorded."""

        def command() -> bool:
            customer = self.customer(customer_ref)
            recorded = customer.record_statement_sent(sent, self.stamp(actor))
            if recorded:
                self._save("statement sent", customer)
            return recorded

        return self._retrying("record statement sent", command)

    def record_statement_send_failed(
        self, customer_ref: str | UUID, actor: str, failed: StatementFailure
    ) -> None:
        """``Customer.StatementSendFailed``: what the server answered."""

        def command() -> None:
            customer = self.customer(customer_ref)
            customer.record_statement_send_failed(failed, self.stamp(actor))
            self._save("statement send failed", customer)

        self._retrying("record statement send failed", command)

    # ---------------------------------------------------------------- packages

    def define_package(self, actor: str, **fields: Unpack[NewPackage]) -> UUID:
        fields.setdefault("currency", self.settings().default_currency)
        terms = PackageTerms.model_validate(fields)
        package = Package.define(terms, self.stamp(actor))
        self._create(
            "package defined", package, AlreadyExists(f"package {terms.name!r} already exists")
        )
        return package.id

    def package(self, ref: str | UUID) -> Package:
        """A package by name or id."""
        return self._by_key_or_id(Package, ref, package_id_for, "package")

    def change_package(
        self,
        ref: str | UUID,
        changes: PackageChanges,
        actor: str,
        *,
        expected_version: int | None = None,
    ) -> None:
        def command() -> None:
            package = self._at_version(self.package(ref), expected_version, "package")
            package.change(changes, self.stamp(actor))
            self._save("package changed", package)

        self._retrying("change package", command)

    def assign_package(
        self,
        customer_ref: str | UUID,
        package_ref: str | UUID,
        actor: str,
        *,
        start_date: date,
        quantity: Decimal | None = None,
        end_date: date | None = None,
        expected_version: int | None = None,
    ) -> UUID:
        assignment_id = uuid4()

        def command() -> UUID:
            customer = self._at_version(self.customer(customer_ref), expected_version, "customer")
            package = self.package(package_ref)
            if package.terms.currency != customer.currency:
                raise CurrencyMismatch(
                    f"package {package.terms.name!r} is priced in {package.terms.currency},"
                    f" customer {customer.registered.account_number} is billed in"
                    f" {customer.currency}",
                    field="package",
                )
            customer.assign_package(
                assignment_id,
                package.id,
                quantity if quantity is not None else package.terms.default_quantity,
                start_date,
                end_date,
                self.stamp(actor),
            )
            self._save("package assigned", customer)
            return assignment_id

        return self._retrying("assign package", command)

    def end_assignment(
        self,
        customer_ref: str | UUID,
        assignment_id: UUID,
        end_date: date,
        actor: str,
        *,
        expected_version: int | None = None,
    ) -> None:
        def command() -> None:
            customer = self._at_version(self.customer(customer_ref), expected_version, "customer")
            customer.end_assignment(assignment_id, end_date, self.stamp(actor))
            self._save("package assignment ended", customer)

        self._retrying("end assignment", command)
