"""Strawberry types, inputs, enums and payloads per domain. Never imports resolvers."""
