"""CSV exports (SPEC §3, §4, §5, §7): one module per entity, on the machinery of `base`.

A header, then the rows in id order, fetched a keyset page at a time, so memory stays
flat whatever the number of rows. The caller passes the SQL condition (the access rule
and the client's filter). An exported file of companies, contacts or contracts imports
back as a no-op (`services.imports`), so each module here also names the file's columns.
"""
