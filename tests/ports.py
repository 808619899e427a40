"""Local ports for the servers the tests start."""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path

#: how many ports each xdist worker has to itself
PORTS_A_WORKER = 1500
#: where in its block a process starts: by its pid, so that two test sessions on one machine
#: (two checkouts, say) seldom reach for the same ports
_taken = itertools.count(os.getpid() % PORTS_A_WORKER)


def free_port() -> int:
    """A local port no one listens on, for a server the test starts later, often in another
    process. It lies below the kernel's ephemeral range, where ``bind(0)`` and every outgoing
    connection take theirs, so that no port the kernel hands out between now and the server's
    bind is this one (gunicorn, finding its port taken, gives up after 5 s); each xdist worker
    picks from a block of its own, in turn, and never the same port twice."""
    low = _ephemeral_low() - 8 * PORTS_A_WORKER
    if low < 1024:  # a machine whose ephemeral range leaves no room: the kernel's choice
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    start = low + (int(worker) % 8 if worker.isdigit() else 0) * PORTS_A_WORKER
    for _ in range(PORTS_A_WORKER):
        port = start + next(_taken) % PORTS_A_WORKER
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:  # in use, or still in TIME_WAIT
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{start + PORTS_A_WORKER - 1}")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default
