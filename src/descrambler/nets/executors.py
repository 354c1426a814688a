"""Where many networks train: a local process pool, or a Dask cluster.

`training_executor(scheduler, workers)` gives a `concurrent.futures.Executor`: with no scheduler (and no
`$DESCRAMBLER_SCHEDULER`) a local pool of spawned processes; with "local-dask" a Dask `LocalCluster` on
this machine (loopback only); with an address ("tcp://host:8786", "host:8786") the executor of a Dask
client connected to a running scheduler (started by hand, or by SLURM/PBS through dask-jobqueue). Dask is
an optional dependency (`pip install "descrambler[cluster]"`); the workers need the package installed.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor

from .._validate import positive_int

__all__ = ["training_executor", "SCHEDULER_ENV", "LOCAL_DASK"]

#: Environment variable naming the Dask scheduler when no `scheduler` is given.
SCHEDULER_ENV = "DESCRAMBLER_SCHEDULER"
#: The scheduler name that starts a Dask LocalCluster on this machine.
LOCAL_DASK = "local-dask"
#: Seconds to wait for a scheduler before the address is declared unreachable.
CONNECT_TIMEOUT_S = 5.0


def _dask():
    try:
        import distributed
    except ImportError:  # pragma: no cover - distributed is pinned for the tests
        raise ValueError("scheduler: a Dask scheduler needs the 'distributed' package: "
                         'pip install "descrambler[cluster]"') from None
    return distributed


@contextlib.contextmanager
def training_executor(scheduler: str | None = None, workers: int | None = None,
                      announce: bool = True) -> Iterator[Executor]:
    """An executor for training networks, closed (and its cluster stopped) on exit.

    Parameters
    ----------
    scheduler : str or None, default None
        None: `$DESCRAMBLER_SCHEDULER`, else a local process pool; "local-dask": a Dask LocalCluster of
        `workers` single-threaded worker processes on 127.0.0.1; any other string: a Dask scheduler address.
    workers : int or None, default None
        Processes of a local pool or LocalCluster (None: one per core); unused for a remote scheduler.
    announce : bool, default True
        Print the Dask dashboard's address to standard error when there is one.

    Yields
    ------
    concurrent.futures.Executor
        Submit picklable functions of importable modules to it.

    Raises
    ------
    ValueError
        If `workers` is not a positive integer, or the scheduler cannot be reached within
        CONNECT_TIMEOUT_S seconds (the message starts with "scheduler:" and names the address).

    Examples
    --------
    >>> from descrambler.nets.executors import training_executor
    >>> with training_executor(workers=1) as pool:
    ...     pool.submit(abs, -3).result()
    3
    """
    workers = positive_int(os.cpu_count() or 1 if workers is None else workers, "workers")
    scheduler = scheduler if scheduler is not None else os.environ.get(SCHEDULER_ENV) or None
    if scheduler is None:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield pool
        return
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(f"scheduler: expected {LOCAL_DASK!r} or a Dask scheduler address, got {scheduler!r}")
    distributed = _dask()
    with contextlib.ExitStack() as stack:
        if scheduler == LOCAL_DASK:
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR))
            client = stack.enter_context(distributed.Client(cluster))
        else:
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S))
            except (OSError, TimeoutError, ValueError) as error:
                raise ValueError(f"scheduler: cannot reach {scheduler!r} within {CONNECT_TIMEOUT_S:g} s "
                                 f"({type(error).__name__}: {error})") from None
        if announce and client.dashboard_link:
            print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
        yield client.get_executor(pure=False)
