"""The render thread: latest request wins, errors come back as results, close joins."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from strata.engine.core.worker import RenderWorker


@dataclass(frozen=True)
class Req:
    stamp: int
    fail: bool = False


@dataclass(frozen=True)
class Res:
    request: Req
    error: str = ""


def slow_render(req: Req) -> Res:
    time.sleep(0.01)
    if req.fail:
        raise RuntimeError(f"boom {req.stamp}")
    return Res(req)


def test_latest_request_wins_and_far_fewer_renders():
    # A slider sends many requests while one render is under way; the worker must
    # render the newest one next and drop those in between. The first render is held
    # until all 100 are in, so the count does not depend on how fast this machine is.
    render, gate, _ = gated_render()
    got = []
    w = RenderWorker(render, got.append, on_error=lambda r, m: Res(r, m))
    try:
        for i in range(100):
            w.submit(Req(i))
        gate.set()
        assert w.wait_until_idle(10)
    finally:
        w.close()
    assert got[-1].request.stamp == 99
    assert len(got) <= 2, f"{len(got)} renders for 100 requests: the ones in between were not dropped"
    stamps = [r.request.stamp for r in got]
    assert stamps == sorted(stamps)


def gated_render():
    """A render that blocks until ``gate`` is set; ``started`` tells when it is inside."""
    gate, started = threading.Event(), threading.Event()

    def render(req):
        started.set()
        gate.wait(5)
        return Res(req)

    return render, gate, started


def test_lock_driven_renders_skip_every_replaced_request():
    render, gate, started = gated_render()
    seen = []
    w = RenderWorker(render, lambda r: seen.append(r.request.stamp))
    try:
        w.submit(Req(0))
        assert started.wait(5)
        for i in range(1, 50):  # all arrive while request 0 is rendering
            w.submit(Req(i))
        gate.set()
        assert w.wait_until_idle(5)
    finally:
        w.close()
    assert seen == [0, 49]


def test_a_failing_render_reports_and_the_next_one_renders():
    got = []
    w = RenderWorker(slow_render, got.append, on_error=lambda r, m: Res(r, m))
    try:
        w.submit(Req(1, fail=True))
        assert w.wait_until_idle(5)
        w.submit(Req(2))
        assert w.wait_until_idle(5)
    finally:
        w.close()
    assert got[0].error == "RuntimeError: boom 1"
    assert got[1].request.stamp == 2 and got[1].error == ""


def test_close_joins_the_thread():
    w = RenderWorker(slow_render, None)
    w.submit(Req(1))
    w.close()
    assert not w.alive


def test_synchronous_mode_renders_in_submit():
    got = []
    w = RenderWorker(slow_render, got.append, synchronous=True)
    w.submit(Req(7))
    assert [r.request.stamp for r in got] == [7] and w.idle()
    w.close()


def test_a_render_that_outlives_close_is_never_delivered():
    """A window deletes its adapter after close(): a late result must not reach it."""
    render, gate, started = gated_render()
    seen = []
    w = RenderWorker(render, lambda r: seen.append(r.request.stamp))
    w.submit(Req(0))
    assert started.wait(5)
    w.close(timeout=0.05)  # the render is still going: close gives up waiting
    assert w.alive
    gate.set()
    w._thread.join(5)
    assert not w.alive
    assert seen == [] and w.renders == 1  # rendered, but nobody was told after close
