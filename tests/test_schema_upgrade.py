"""A database an older paper-digest wrote, opened by this one, and the other way round.

Version 1 stored a file listing's sightings under the path as it was given; this version
stores its real path. Without a migration, the first collect after an upgrade stored every
paper of a file named through a symbolic link a second time, and each then ranked as seen
in two listings. And since the version was never raised, an older program opened a
database this one wrote, and the oldest of them mailed readers who had unsubscribed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, inspect, literal, select, update

from digest.collect.locate import SourceSpec
from digest.config import CollectSettings
from digest.errors import ForeignDatabaseError
from digest.pipeline.collect import collect
from digest.state.schema import SCHEMA_VERSION, meta, sightings, votes
from digest.state.store import Store
from tests.pgserver import database_url
from tests.seeds import SEEDS
from tests.test_collect_cli import digest

# A dated listing dump: its sightings carry the listing's date.
DUMP = SEEDS / "000_ce849831d427977b.txt"
NOW = datetime(2026, 11, 21, 6, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request, tmp_path)


@pytest.fixture
def linked(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """The dump in a folder, and the same file named through a symbolic link to it."""
    folder = tmp_path / "listings"
    folder.mkdir()
    shutil.copy(DUMP, folder / DUMP.name)
    (tmp_path / "link").symlink_to(folder)
    yield folder / DUMP.name, tmp_path / "link" / DUMP.name


def collect_file(url: str, path: Path) -> None:
    with Store(url) as store:
        spec = SourceSpec(name="listings", location=str(path))
        collect([spec], store, settings=CollectSettings(), now=NOW)


def locations(url: str) -> list[str]:
    """The location of every sighting, one entry per row."""
    with Store(url) as store, store.db.reading("count sightings") as conn:
        return sorted(conn.scalars(select(sightings.c.location)).all())


def stored_version(url: str) -> str:
    with Store(url) as store, store.db.reading("read the version") as conn:
        return str(conn.scalar(select(meta.c.value).where(meta.c.key == "schema_version")))


def as_version_1_wrote_it(url: str, real: Path, given: Path, *, keep_real: bool) -> int:
    """Rewrite a database as version 1 left it: sightings under the path as given (and,
    with `keep_real`, also under the real path, as a collect after the upgrade but before
    this migration left them), and the version at 1. Returns how many sightings are then
    under the path as given (the next open migrates them: `Store` sees only the result)."""
    with Store(url) as store, store.db.transaction("go back to version 1") as conn:
        if keep_real:
            renamed = [
                literal(str(given)).label("location") if column.name == "location" else column
                for column in sightings.c
            ]
            copied = select(*renamed).where(sightings.c.location == str(real))
            conn.execute(insert(sightings).from_select(list(sightings.c.keys()), copied))
        else:
            conn.execute(
                update(sightings)
                .where(sightings.c.location == str(real))
                .values(location=str(given))
            )
        conn.execute(update(meta).where(meta.c.key == "schema_version").values(value="1"))
        under_given = select(func.count()).where(sightings.c.location == str(given))
        return int(conn.scalar(under_given) or 0)


@pytest.mark.parametrize("both_names", [False, True], ids=["given-name", "both-names"])
def test_sightings_of_a_file_named_through_a_link_are_moved_to_its_real_path_once(
    url: str, linked: tuple[Path, Path], both_names: bool
) -> None:
    """Version 1 stored them under the name as given; with `both_names`, a collect after
    the upgrade but before this migration stored them under the real path too."""
    real, given = linked
    collect_file(url, given)
    stored = len(locations(url))
    assert stored > 40 and set(locations(url)) == {str(real)}, "stored under the real path"
    assert as_version_1_wrote_it(url, real, given, keep_real=both_names) == stored

    assert stored_version(url) == str(SCHEMA_VERSION) == "2", "opening it migrated it"
    assert locations(url) == [str(real)] * stored
    collect_file(url, given)
    assert locations(url) == [str(real)] * stored, "the same listing is not stored twice"


def test_urls_relative_paths_and_real_paths_are_left_as_they_are(
    url: str, linked: tuple[Path, Path]
) -> None:
    real, _ = linked
    collect_file(url, real)
    kept = ["https://arxiv.org/rss/cs.LG", "listings/" + DUMP.name, str(real)]
    with Store(url) as store, store.db.transaction("relabel") as conn:
        ids = conn.scalars(select(sightings.c.paper_id).order_by(sightings.c.paper_id)).all()
        for paper_id, location in zip(ids, kept[:2], strict=False):
            conn.execute(
                update(sightings).where(sightings.c.paper_id == paper_id).values(location=location)
            )
        conn.execute(update(meta).values(value="1"))
    before = locations(url)
    assert set(before) == set(kept)
    assert stored_version(url) == "2"
    assert locations(url) == before


def test_a_database_of_a_newer_program_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    file = tmp_path / "digest.db"
    url = f"sqlite:///{file}"
    with Store(url) as store, store.db.transaction("be newer") as conn:
        conn.execute(update(meta).values(value=str(SCHEMA_VERSION + 1)))
        votes.drop(conn)
    written = file.read_bytes()
    with pytest.raises(ForeignDatabaseError, match="newer than this program's"):
        Store(url)
    result = digest("status", "--db", str(file), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {url}: database schema {SCHEMA_VERSION + 1} is newer than this program's "
        f"({SCHEMA_VERSION}) (upgrade paper-digest)\n"
    )
    assert file.read_bytes() == written, "no table made, no row written"


def test_a_new_database_records_this_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    with Store(url) as store, store.db.reading("look") as conn:
        assert conn.scalar(select(meta.c.value)) == str(SCHEMA_VERSION)
        assert inspect(conn).has_table("sightings")
