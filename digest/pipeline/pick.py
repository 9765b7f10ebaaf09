"""Picking one reader's papers: collect when sources are given, then rank the candidates."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from digest.collect.locate import SourceSpec
from digest.config import CollectSettings, Settings
from digest.errors import DigestError
from digest.models import CollectReport, Paper, Profile, ScoredPaper
from digest.pipeline.collect import collect
from digest.pipeline.pool import encoder_for, stored_pool
from digest.rank.encoder import Model
from digest.rank.pool import Pool
from digest.rank.ranker import rank
from digest.rank.votes import vote_key, vote_keys
from digest.state.store import Store
from digest.state.vector_cache import open_vector_cache
from digest.state.vectors import VectorStore
from digest.state.votes import Taste
from digest.subscribers import Subscriber, edition_date, interests_profile


@dataclass(frozen=True, slots=True)
class Picks:
    """One reader's papers of an edition, and the collection report when sources were read."""

    profile: Profile
    edition: date
    papers: tuple[ScoredPaper, ...]
    report: CollectReport | None = None


_NO_VOTES = Taste()


def require_papers(store: Store) -> None:
    """Refuse to rank an empty database: "nothing matched your interests" would be untrue."""
    if not store.papers.any():
        raise DigestError(
            f"{store.db.url} holds no papers yet",
            hint="run `digest collect` first",
        )


def rank_stored(
    store: Store,
    profile: Profile,
    *,
    edition: date,
    days: int | None,
    encoder: Model | None = None,
    vectors: VectorStore | None = None,
) -> tuple[ScoredPaper, ...]:
    """One profile's picks among the stored candidates of an edition (`vectors`: where
    papers' embeddings are kept, when not in `store`)."""
    pool = stored_pool(store, until=edition, days=days, encoder=encoder, vectors=vectors)
    return rank(pool, profile, voted=voted_papers(store, pool, [profile]))


def voted_papers(store: Store, pool: Pool, profiles: Iterable[Profile]) -> dict[str, Paper]:
    """The stored papers the profiles' votes name that are not among the candidates (a
    liked paper older than the edition's window still tells its taste), by vote key:
    what `rank` and `rank_many` take as `voted`."""
    votes = (vote for profile in profiles for vote in (*profile.likes, *profile.dislikes))
    return store.papers.find_many([key for key in vote_keys(votes) if key not in pool.keys])


def collect_and_rank(
    specs: Sequence[SourceSpec],
    profile: Profile,
    *,
    settings: CollectSettings,
    now: datetime,
    edition: date,
    encoder: Model | None,
) -> tuple[CollectReport, tuple[ScoredPaper, ...]]:
    """Collect the sources into a throwaway database and rank all they hold: no state kept
    but the papers' embeddings, in the user's cache (`vector_cache`), so that previewing
    the same feed again does not encode it again."""
    with (
        tempfile.TemporaryDirectory(prefix="digest-") as scratch,
        Store(f"sqlite:///{Path(scratch) / 'digest.db'}") as store,
        open_vector_cache(now.date()) if encoder else nullcontext() as cache,
    ):
        report = collect(specs, store, settings=settings, now=now)
        papers = rank_stored(
            store, profile, edition=edition, days=None, encoder=encoder, vectors=cache
        )
        return report, papers


def pick_papers(
    settings: Settings,
    *,
    sources: Sequence[str],
    subscriber: Subscriber | None,
    interests: str | None,
    edition: date | None,
    now: datetime,
    limit: int | None = None,
    likes: Sequence[str] = (),
    dislikes: Sequence[str] = (),
) -> Picks:
    """The papers one reader gets: a configured subscriber, interests, or everything trending.

    With sources, they are collected into a throwaway database and all they hold compete;
    without, the stored candidates of the edition (default: today where the reader lives)
    do, less what the subscriber already received, with the votes they cast by mail or
    on the web as the send would. `likes` and `dislikes` add to the subscriber's own
    votes, and beat theirs on the same paper.
    """
    timezone = subscriber.timezone if subscriber else settings.digest.timezone
    encoder = encoder_for(settings.digest.semantic_model)
    day = edition or edition_date(now, timezone)

    def profile(delivered: frozenset[str], recorded: Taste = _NO_VOTES) -> Profile:
        if subscriber is not None:
            chosen = subscriber.profile(delivered, *_given_last(recorded, likes, dislikes))
        else:
            chosen = interests_profile(interests, max_papers=settings.digest.max_papers)
            chosen = replace(chosen, likes=tuple(likes), dislikes=tuple(dislikes))
        return replace(chosen, max_papers=limit) if limit else chosen

    if sources:
        specs = [SourceSpec(name=source, location=source) for source in sources]
        report, papers = collect_and_rank(
            specs,
            profile(frozenset()),
            settings=settings.collect,
            now=now,
            edition=day,
            encoder=encoder,
        )
        return Picks(profile(frozenset()), day, papers, report)
    with Store(settings.state.url, create=False) as store:
        require_papers(store)
        delivered = frozenset[str]()
        recorded = _NO_VOTES
        if subscriber is not None:
            delivered = store.ledger.delivered_ids(subscriber.email)
            recorded = store.votes.tastes([subscriber.email]).get(
                subscriber.email.lower(), recorded
            )
        reader = profile(delivered, recorded)
        days = settings.digest.candidate_days
        papers = rank_stored(
            store,
            reader,
            edition=day,
            days=subscriber.candidate_days(days) if subscriber else days,
            encoder=encoder,
        )
    return Picks(reader, day, papers)


def _given_last(
    recorded: Taste, likes: Sequence[str], dislikes: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The reader's recorded votes, then those given on the command line: a paper given
    one way drops a recorded vote the other way."""
    liked, disliked = set(vote_keys(likes)), set(vote_keys(dislikes))
    kept_likes = [vote for vote in recorded.likes if vote_key(vote) not in disliked]
    kept_dislikes = [vote for vote in recorded.dislikes if vote_key(vote) not in liked]
    return (*kept_likes, *likes), (*kept_dislikes, *dislikes)
