"""CRM GraphQL API server: companies, contacts, contracts, invoices and leads."""

__version__ = "0.1.0"
