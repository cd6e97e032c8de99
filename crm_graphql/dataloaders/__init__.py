"""Per-request, set-based fetching. One `Loaders` object is built per request for one
viewer, so nothing cached here outlives the request or leaks between viewers."""

from __future__ import annotations

from functools import cached_property

from crm_graphql.dataloaders.companies import CompanyLoaders
from crm_graphql.dataloaders.contracts import ContractLoaders
from crm_graphql.dataloaders.events import EventLoaders
from crm_graphql.dataloaders.files import FileLoaders
from crm_graphql.dataloaders.invoices import InvoiceLoaders
from crm_graphql.dataloaders.leads import LeadLoaders
from crm_graphql.dataloaders.users import UserLoaders
from crm_graphql.services.auth import Viewer


class Loaders:
    def __init__(self, viewer: Viewer | None = None) -> None:
        self.viewer = viewer

    @cached_property
    def users(self) -> UserLoaders:
        return UserLoaders()

    @cached_property
    def companies(self) -> CompanyLoaders:
        return CompanyLoaders(self.viewer)

    @cached_property
    def files(self) -> FileLoaders:
        return FileLoaders(self.viewer)

    @cached_property
    def invoices(self) -> InvoiceLoaders:
        return InvoiceLoaders(self.viewer)

    @cached_property
    def contracts(self) -> ContractLoaders:
        return ContractLoaders(self.viewer)

    @cached_property
    def leads(self) -> LeadLoaders:
        return LeadLoaders(self.viewer)

    @cached_property
    def events(self) -> EventLoaders:
        return EventLoaders()
