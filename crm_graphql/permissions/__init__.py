"""Access rules per domain: SQL visibility filters and strawberry permission classes."""
