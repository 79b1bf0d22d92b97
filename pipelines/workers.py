"""Worker processes beside the crawl, for the stages that would otherwise take the crawl's interpreter lock.

Scrapy runs a crawl in one thread: fetching, parsing, extraction and every pipeline share one core. Writing the WARC
evidence and scoring with the model are pure CPU work on plain data (bytes in, references out; texts in, score
records out), so they run in worker processes and the crawl thread only hands the data over and picks the result up
when the worker is done. bench.crawl shows the effect (CPU per page of the crawl process and its workers).

Worker processes are started with ``spawn`` (forking a process that runs a reactor and threads is unsafe) and import
only what their job needs: this module does not import Scrapy or Twisted at module level.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, TypeVar

_T = TypeVar("_T")

_pools: dict[tuple[Any, ...], ProcessPoolExecutor] = {}
_lock = threading.Lock()


def pool(key: tuple[Any, ...], workers: int, initializer: Callable[..., None] | None = None,
         initargs: tuple[Any, ...] = (), nice: int = 0) -> ProcessPoolExecutor:
    """The process pool for ``key``, shared by every crawler of this process (started on first use); its workers run
    ``nice`` steps below this process's scheduling priority (see :func:`_start_worker`)."""
    with _lock:
        executor = _pools.get(key)
        if executor is None:
            executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_start_worker, initargs=(nice, initializer, initargs))
            _pools[key] = executor
        return executor


def _start_worker(nice: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    """Pool initializer: lower the worker's priority, then run the job's own initializer.

    The crawl thread is the critical path — every page waits for it — while a worker's batch can wait a few
    milliseconds unnoticed. On two cores shared with the search node, equal priorities let the scheduler hand the
    crawl thread's core to a worker: its run-queue wait (``/proc/<pid>/task/<tid>/schedstat``) was 11-22% of a
    bench.crawl run, 6% with the workers niced.
    """
    if nice:
        os.nice(nice)
    if initializer is not None:
        initializer(*initargs)


def discard(key: tuple[Any, ...], broken: ProcessPoolExecutor) -> None:
    """Forget the ``broken`` pool (a worker died): the next :func:`pool` call starts a new one. Several batches fail
    with one broken pool; only the first replaces it, the later ones must not throw away its healthy successor."""
    with _lock:
        if _pools.get(key) is broken:
            del _pools[key]
    broken.shutdown(wait=False, cancel_futures=True)


def deferred(future: Future[Any]) -> Any:
    """A Twisted Deferred fired in the reactor thread when ``future`` (resolved in the pool's own thread) is done."""
    from twisted.internet import defer, reactor
    from twisted.python.failure import Failure

    d: defer.Deferred[Any] = defer.Deferred()

    def fire(f: Future[Any]) -> None:
        exc = f.exception()
        if exc is None:
            d.callback(f.result())
        else:
            d.errback(Failure(exc))

    future.add_done_callback(lambda f: reactor.callFromThread(fire, f))  # type: ignore[attr-defined]
    return d


class Batcher:
    """Gathers items for up to ``size`` items or ``max_wait`` seconds and runs ``fn(items, *args)`` on them at once —
    in a worker process of pool ``key`` when ``processes`` > 0, else in a thread of this process; each :meth:`submit` gets
    a Deferred of its own item's result.

    One hand-over per batch instead of per item: each submit to a process pool costs a pipe write and a wake-up of the
    pool's threads, which bench.crawl saw at a tenth of the crawl thread's time when done per page. ``fn`` returns one
    result per item, an exception instance for an item that failed (its Deferred errbacks; the others go on). A
    worker that dies takes its pool with it: ``on_lost`` is told, a new pool serves later batches, and this batch
    runs in this process (in a thread) rather than being lost.
    """

    def __init__(self, fn: Callable[..., list[Any]], args: tuple[Any, ...] = (), *, key: tuple[Any, ...],
                 processes: int, size: int, max_wait: float, initializer: Callable[..., None] | None = None,
                 initargs: tuple[Any, ...] = (), local: Callable[..., list[Any]] | None = None,
                 on_lost: Callable[[str, int], None] | None = None, nice: int = 0) -> None:
        self.fn, self.args, self.key, self.processes, self.nice = fn, args, key, processes, nice
        self.size, self.max_wait = size, max_wait
        self.initializer, self.initargs = initializer, initargs
        #: What runs the batch in this process (defaults to ``fn``): a worker-side ``fn`` may need worker state.
        self.local = local or fn
        self.on_lost = on_lost
        self._items: list[Any] = []
        self._waiting: list[Any] = []
        self._timer: Any = None

    def submit(self, item: Any) -> Any:
        from twisted.internet import defer, reactor

        d: defer.Deferred[Any] = defer.Deferred()
        self._items.append(item)
        self._waiting.append(d)
        if len(self._items) >= self.size:
            self.flush()
        elif self._timer is None:
            self._timer = reactor.callLater(self.max_wait, self.flush)  # type: ignore[attr-defined]
        return d

    def flush(self) -> None:
        from twisted.internet import defer
        from twisted.internet.threads import deferToThread

        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None
        items, waiting = self._items, self._waiting
        self._items, self._waiting = [], []
        if not items:
            return
        if self.processes > 0:
            executor = pool(self.key, self.processes, self.initializer, self.initargs, self.nice)
            try:
                d = deferred(executor.submit(self.fn, items, *self.args))
            except BrokenProcessPool as exc:
                d = defer.fail(exc)

            def lost(failure: Any) -> Any:
                if not failure.check(BrokenProcessPool):
                    return failure
                if self.on_lost is not None:
                    self.on_lost(failure.getErrorMessage(), len(items))
                discard(self.key, executor)
                return deferToThread(self.local, items, *self.args)

            d.addErrback(lost)
        else:
            d = deferToThread(self.local, items, *self.args)
        d.addCallbacks(_fire_each, _fail_all, callbackArgs=(waiting,), errbackArgs=(waiting,))


def _fire_each(results: list[Any], waiting: list[Any]) -> None:
    from twisted.python.failure import Failure

    for d, result in zip(waiting, results, strict=True):
        if isinstance(result, BaseException):
            d.errback(Failure(result))
        else:
            d.callback(result)


def _fail_all(failure: Any, waiting: list[Any]) -> None:
    for d in waiting:
        d.errback(failure)


def frozen(state: _T) -> _T:
    """``state`` (just loaded, kept for the life of the process), with everything allocated so far moved out of the
    garbage collector's generations (``gc.freeze``).

    A loaded model (vocabulary, rule tables) lives as long as the process, yet every full collection re-scanned it:
    bench.crawl measured the collector at 15% of the crawl process's CPU with the model loaded, 8% with it frozen.
    """
    gc.collect()
    gc.freeze()
    return state


# -- the scoring worker -----------------------------------------------------------------------------------------------
_scorer: Any = None


def load_scorer(model_dir: str) -> None:
    """Pool initializer: load the model once per worker process (seconds, not per batch)."""
    global _scorer  # noqa: PLW0603 - one model per worker process is the point
    from pathlib import Path

    from classifiers.scorer import Scorer

    _scorer = frozen(Scorer.load(Path(model_dir) if model_dir else None))


def score_batch(texts: list[str]) -> list[dict[str, Any]]:
    """Score records for ``texts`` with the worker's model (see :func:`load_scorer`)."""
    return _scorer.score_many(texts)
