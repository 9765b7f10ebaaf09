"""Bringing a database an older paper-digest wrote up to this version.

Tables and indexes added since are made by `db.Database` (`create_all`, then each new
index). What is here rewrites rows whose stored meaning changed, one step per schema
version (`schema.SCHEMA_VERSION`), in the transaction that opens the database: several
senders starting together migrate once, and a failed step leaves the database as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from digest.state.schema import SCHEMA_VERSION, meta, sightings


def migrate(conn: Connection, found: int | None) -> None:
    """Bring a database at schema version `found` (None: a new database) to this
    version, and record it."""
    if found is None:
        conn.execute(insert(meta), {"key": "schema_version", "value": str(SCHEMA_VERSION)})
        return
    if found >= SCHEMA_VERSION:
        return
    if found < 2:
        resolve_sighting_paths(conn)
    conn.execute(
        update(meta).where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION))
    )


def resolve_sighting_paths(conn: Connection) -> None:
    """Version 2: a file listing's location is its real path (`pipeline.collect`).

    Up to version 1 it was stored as given, so the first collect after an upgrade would
    store every paper of a file named through a symbolic link a second time, and each
    would look twice as trending. A path whose real path differs is rewritten to it; a
    sighting that then exists twice (a file read under both names) is kept once. A
    relative path cannot be resolved without the folder it was given in, and URLs are
    not paths: both are left as they are.
    """
    locations = conn.scalars(select(sightings.c.location).distinct()).all()
    for location in locations:
        if not Path(location).is_absolute():  # relative, or a URL
            continue
        real = os.path.realpath(location)
        if real == location:
            continue
        twin = sightings.alias("twin")
        seen_under_real = (
            select(twin.c.paper_id)
            .where(
                twin.c.location == real,
                twin.c.paper_id == sightings.c.paper_id,
                twin.c.listing == sightings.c.listing,
            )
            .exists()
        )
        conn.execute(delete(sightings).where(sightings.c.location == location, seen_under_real))
        conn.execute(
            update(sightings).where(sightings.c.location == location).values(location=real)
        )
