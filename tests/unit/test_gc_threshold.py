"""The billing run's raised collector threshold: raised for the block, put back after, also
when runs overlap or the block fails."""

from __future__ import annotations

import gc

import pytest

from adapters.usage.gc_threshold import RUN_THRESHOLD, fewer_collections


def test_the_threshold_is_raised_for_the_block_and_put_back_after():
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == RUN_THRESHOLD
        assert gc.get_threshold()[1:] == before[1:]
    assert gc.get_threshold() == before


def test_overlapping_runs_put_back_what_the_first_found():
    before = gc.get_threshold()
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first to start finishes first
    assert gc.get_threshold()[0] == RUN_THRESHOLD  # the second still runs
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_a_failing_block_puts_the_threshold_back():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the run failed")
    assert gc.get_threshold() == before
