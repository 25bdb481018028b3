"""A Dask ``LocalCluster`` in a process of its own: the driver of an extraction holds only a client.

``extract_dataset(..., scheduler="processes")`` used to start a ``distributed.LocalCluster``
in the calling process. Its scheduler then lived in the driver, and the scheduler's state
per task (records of tasks and their transitions, logs bounded only at thousands of
entries, metrics per task group) grew the driver's memory with the number of tracks, by
more than the index the driver keeps (``bench/scale.py``). :class:`ClusterProcess`
starts the same cluster (scheduler and nannies, ``workers`` spawned worker processes of
one thread) in a child process, ``python -m mgc.features.cluster``, and connects a
``distributed.Client`` to it; the driver then holds the client and its futures in flight.

The child takes the caller's Dask configuration (what ``dask.config.set`` holds when the
cluster starts, passed as Dask passes it to its own workers), reports the scheduler's
address on its standard output, and closes the cluster when its standard input closes:
when the driver closes it, exits or dies. It ignores SIGINT: Ctrl-C in a terminal reaches
the whole process group, and it is the driver's to decide what to stop.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..errors import ParameterError, check_positive_int

#: Dask settings of the cluster ``scheduler="processes"`` starts (``bench/scale.py`` uses the same cluster):
#: Dask's diagnostics at their defaults (the event loop's tick every 20 ms, the system monitor every 0.5 s,
#: each worker's memory every 0.1 s) cost an idle 2-worker cluster 0.17 CPU-seconds per second, measured here
#: (2.1 of them in the scheduler, 3.1 in the workers per 30 s); with these 0.09 (0.3 and 2.3).
QUIET_DASK = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}

#: Messages and transitions Dask keeps for its developers' debugging, per connection and per scheduler
#: (``distributed.admin.low-level-log-length``; Dask's default 1000). A client's connection keeps that many
#: messages it sent, each task it submitted among them: about 16 KB per task of 8 tracks, so the driver of
#: an extraction grew by about 12 MB from 1,000 to 10,000 tracks, until the log was full (bench/scale.py).
#: The clients :func:`client_for` makes, and the cluster :class:`ClusterProcess` starts, keep this many.
SHORT_LOGS = {"distributed.admin.low-level-log-length": 50}

#: Seconds to wait for the cluster process to report its scheduler (starting Python, Dask and the workers).
START_TIMEOUT = 180.0

#: Seconds to wait for the cluster process to close its workers and exit before it is killed.
CLOSE_TIMEOUT = 60.0


class ClusterProcess:
    """A ``LocalCluster`` of ``workers`` processes run by a child process, and a client connected to it.

    Parameters
    ----------
    workers : int
        Worker processes (one thread each).

    Attributes
    ----------
    client : distributed.Client
    address : str
        The scheduler's address.
    pid : int
        The child process's id (the scheduler and the workers' nannies run there).

    Raises
    ------
    ParameterError
        ``workers`` is not a positive integer, or the cluster did not start (its process's
        messages are on standard error).

    Examples
    --------
    >>> with ClusterProcess(workers=2) as cluster:  # doctest: +SKIP
    ...     extract_dataset("/data/gtzan", scheduler=cluster.client)
    """

    def __init__(self, workers: int):
        import dask

        workers = check_positive_int("workers", workers)
        env = dict(os.environ)
        # the caller's Dask settings, as Dask hands them to the processes it spawns; mgc importable as here
        env["DASK_INTERNAL_INHERIT_CONFIG"] = dask.config.serialize(dask.config.global_config)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "mgc.features.cluster", str(workers)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.pid = self._proc.pid
        self.client = None
        try:
            self.address = self._read_address()
            self.client = client_for(self.address)
        except BaseException:
            self.close()
            raise

    def _read_address(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._proc.stdout], [], [], left)[0]:
                raise ParameterError(
                    f"scheduler='processes': the Dask cluster did not start within {START_TIMEOUT:.0f} s"
                )
            chunk = os.read(self._proc.stdout.fileno(), 4096)
            if not chunk:
                code = self._proc.wait()
                raise ParameterError(
                    f"scheduler='processes': the Dask cluster's process exited with code {code} before it "
                    "started (its messages are above, on standard error)"
                )
            line += chunk
        return json.loads(line)["address"]

    def close(self) -> None:
        """Close the client, then the cluster (its workers, then its process); safe to call twice."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._proc.poll() is None:
            self._proc.stdin.close()  # the child's signal to close the cluster
            try:
                self._proc.wait(timeout=CLOSE_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            stream.close()

    def __enter__(self) -> ClusterProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def client_for(address: str, **kwargs):
    """A ``distributed.Client`` connected to ``address`` that keeps :data:`SHORT_LOGS` (``kwargs`` go to it)."""
    import dask
    import distributed

    with dask.config.set(SHORT_LOGS):  # read when its connection to the scheduler is made
        return distributed.Client(address, **kwargs)


def _serve(workers: int) -> None:
    """In the child: start the cluster, print its address, close it when standard input closes."""
    import dask
    import distributed

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # spawned workers (Dask's default, made sure of): the embeddings' TensorFlow must not be forked
    dask.config.set({"distributed.worker.multiprocessing-method": "spawn", **QUIET_DASK, **SHORT_LOGS})
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        sys.stdout.write(json.dumps({"address": cluster.scheduler_address}) + "\n")
        sys.stdout.flush()
        while sys.stdin.buffer.read(4096):  # until the driver closes it (or exits)
            pass
    finally:
        cluster.close()


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
