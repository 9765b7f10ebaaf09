"""Ranking: pure scoring of an edition's candidates for each subscriber, no I/O.

`pool` indexes the candidates once (`text_index`, `relevance`, `signals`), `ranker`
scores profiles against it in batches and explains each pick, `selection` takes each
profile's top papers with diversity.
"""
