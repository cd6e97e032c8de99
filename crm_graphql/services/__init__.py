"""Domain work and I/O, one module per domain."""
