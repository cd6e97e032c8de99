"""Plain HTTP endpoints beside /graphql (file downloads, exports, feeds)."""
