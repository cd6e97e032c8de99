"""Root query and mutation classes per domain: parse, authorize, call a service."""
