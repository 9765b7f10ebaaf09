"""State: the database, and the only place that imports SQLAlchemy.

`db` opens the engine (SQLite or PostgreSQL) and runs transactions, translating every
database error into `StoreError`; `schema` holds the tables; `papers` (with
`paper_batch`), `ledger`, `claims`, `http_cache`, `audience`, `votes` and `archive` are
the stores over them; `store` opens them all on one database.
"""
