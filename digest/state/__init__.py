"""State: the database, and the only place that imports SQLAlchemy.

`db` opens the engine and runs transactions, translating every database error into
`StoreError`; `schema` holds the tables; `papers`, `ledger` and `http_cache` are the
stores over them; `store` opens all three on one database.
"""
