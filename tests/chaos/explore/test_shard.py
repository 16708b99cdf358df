"""`chaos explore --shard K/N`: N CI jobs draw together what one job of all their cores would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.explore.parallel import assigned, shares


@settings(max_examples=200, deadline=None, database=None)
@given(count=st.integers(1, 500), shards=st.integers(1, 6), jobs=st.integers(1, 4))
def test_the_shards_run_the_parts_of_one_job_of_all_their_cores_each_once(count: int, shards: int, jobs: int) -> None:
    parts = [part for shard in range(1, shards + 1) for part in assigned(count, jobs, (shard, shards))]
    assert parts == list(enumerate(shares(count, shards * jobs)))  # every seed once, in order, with its share
    assert sum(share for _, share in parts) == count

