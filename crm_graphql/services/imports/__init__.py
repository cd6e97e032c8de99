"""CSV imports of companies, contacts and contracts (SPEC §3, §4, §5, §9).

`driver` streams the file in chunks inside one transaction, `base` is the `Importer`
each entity's import is (shared checks, custom values, audit entries), `rows` a parsed
row and a chunk's plan, `results` what an import is given and answers, `cells` and
`sql` its reading and writing helpers; then one module per entity with its
`import_<entity>` entry point (`contract_rows` reads a contracts file's row). The rules mirror the
create/update services (`services.companies`, `services.contacts`,
`services.contracts`, `services.customfields`). Services do not import the permission
layer, so the caller passes an `Access` built from it. The files' columns are the
exports' (`services.exports`): an exported file imports back as a no-op.
"""
