"""clusters.kube.concurrently: independent calls to a cluster at once, errors per call."""

import threading

import pytest

from clusters.kube import KubeError, concurrently


def test_limit_one_runs_the_calls_in_order_one_after_another():
    seen, active = [], []

    def call(index):
        def run():
            active.append(index)
            assert len(active) == 1, "two calls overlapped"
            seen.append(index)
            active.remove(index)
            return index * 10

        return run

    results = list(concurrently([call(i) for i in range(5)], limit=1))
    assert seen == [0, 1, 2, 3, 4]
    assert results == [(i, i * 10, None) for i in range(5)]


def test_calls_run_at_once_up_to_the_limit():
    barrier = threading.Barrier(4, timeout=5)  # breaks (and fails the test) unless 4 overlap

    def call(index):
        def run():
            barrier.wait()
            return index

        return run

    results = sorted(concurrently([call(i) for i in range(8)], limit=4))
    assert results == [(i, i, None) for i in range(8)]


def test_a_failing_call_reports_its_error_and_the_others_still_finish():
    def ok():
        return "ok"

    def refused():
        raise KubeError("admission webhook denied", status=422, reason="Invalid")

    results = {index: (value, error) for index, value, error in concurrently([ok, refused, ok], 3)}
    assert results[0] == ("ok", None) and results[2] == ("ok", None)
    value, error = results[1]
    assert value is None and error.status == 422 and "denied" in error.message


def test_an_unexpected_exception_is_not_swallowed():
    def broken():
        raise ValueError("a bug, not a cluster answer")

    with pytest.raises(ValueError, match="a bug"):
        list(concurrently([broken, broken], limit=2))
