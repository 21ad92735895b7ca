"""Group commit: many requests' writes in one database transaction, answered after its commit.

A worker process runs one :class:`GroupCommitter` per kind of write (offers, redemptions). Its
thread takes every job queued so far (up to ``max_batch``), runs them in one write transaction,
each inside its own SAVEPOINT, and resolves the jobs' futures only once the COMMIT has returned:
an answer is never sent for a write that is not durable. One commit (and, on SQLite, one pass of
the file's write lock) then serves many requests instead of one.

* A job that raises an :class:`~offerwise.serving.problems.ApiProblem` (e.g. 404) has its
  savepoint rolled back and the problem is its answer; the rest of the batch goes on.
* A job that fails otherwise (a database error such as a PostgreSQL deadlock, or a bug) and a
  batch whose transaction fails as a whole are retried one job per transaction, so one bad job
  never sinks the others and never gets a half-applied answer.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from offerwise.serving.problems import ApiProblem
from offerwise.serving.storage import write_tx

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

log = logging.getLogger("offerwise.serving")

#: ``fn(conn) -> result``: the body of one job, run inside a transaction (and savepoint).
JobFn = Callable[["Connection"], Any]


@dataclass(slots=True)
class _Job:
    fn: JobFn
    sort_key: Any = None
    future: Future = field(default_factory=Future)
    result: Any = None
    error: BaseException | None = None
    retry: bool = False


class GroupCommitter:
    """One writer thread that batches jobs into transactions (see the module docstring).

    ``prelude(conn)`` runs first in every batch transaction (e.g. a lock that orders batches of
    several processes); jobs with a ``sort_key`` run in key order, so two processes' batches take
    row locks in one order. ``linger_s`` > 0 waits that long after a batch's first job before
    running it (larger batches, fewer transactions: for writes nobody waits on, the write-behind
    records of GET offer). ``savepoints=False`` runs a batch's jobs without a savepoint each
    (two round trips fewer per job): any failure then fails the batch, whose jobs are retried one
    per transaction — for jobs that do not fail in normal operation.
    """

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        max_batch: int = 256,
        prelude: Callable[[Connection], None] | None = None,
        linger_s: float = 0.0,
        savepoints: bool = True,
    ):
        self.engine = engine
        self.name = name
        self.max_batch = max_batch
        self.prelude = prelude
        self.linger_s = linger_s
        self.savepoints = savepoints
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"offerwise-{name}", daemon=True)
        self._thread.start()

    def submit(self, fn: JobFn, sort_key: Any = None) -> Future:
        """Queue ``fn``; the future holds its result (or exception) once its batch committed."""
        if self._closed:
            raise RuntimeError(f"{self.name} writer is closed")
        job = _Job(fn, sort_key)
        self._queue.put(job)
        return job.future

    def close(self, timeout: float = 10.0) -> None:
        """Finish the queued jobs and stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout)

    # ------------------------------------------------------------------ thread
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            if self.linger_s > 0:
                time.sleep(self.linger_s)
            jobs = [first]
            stop = False
            while len(jobs) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                jobs.append(nxt)
            self._run_batch(jobs)
            if stop:
                return

    def _run_batch(self, jobs: list[_Job]) -> None:
        if len(jobs) == 1:
            self._run_alone(jobs[0])
            return
        ordered = sorted(jobs, key=lambda j: (j.sort_key is None, str(j.sort_key)))
        try:
            with write_tx(self.engine) as conn:
                if self.prelude is not None:
                    self.prelude(conn)
                for job in ordered:
                    job.result = job.error = None
                    job.retry = False
                    if not self.savepoints:
                        job.result = job.fn(conn)  # a failure fails the batch (retried below)
                        continue
                    try:
                        with conn.begin_nested():
                            job.result = job.fn(conn)
                    except ApiProblem as exc:
                        job.error = exc
                    except Exception:  # noqa: BLE001 - retried alone below
                        job.retry = True
        except Exception:  # noqa: BLE001 - the whole batch failed: every job alone
            log.warning(
                "%s: batch of %d failed; retrying its jobs one by one",
                self.name,
                len(jobs),
                exc_info=True,
            )
            for job in ordered:
                self._run_alone(job)
            return
        for job in ordered:
            if job.retry:
                self._run_alone(job)
            elif job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.result)

    def _run_alone(self, job: _Job) -> None:
        try:
            with write_tx(self.engine) as conn:
                if self.prelude is not None:
                    self.prelude(conn)
                result = job.fn(conn)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)


__all__ = ["GroupCommitter", "JobFn"]
