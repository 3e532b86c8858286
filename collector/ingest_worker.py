"""An ingest worker process's entry point: `python -m collector.ingest_worker FD`.

FD is the worker's end of its pipe to the server, which sends the WorkerSettings first
(see collector.ingest_workers).
"""

import sys
from multiprocessing.connection import Connection

# sqlite-utils imports pandas and numpy when they are installed, for DataFrame helpers a
# worker never uses: ~80 MB of memory per worker. Refused before anything imports them.
sys.modules["pandas"] = None  # type: ignore[assignment]
sys.modules["numpy"] = None  # type: ignore[assignment]

from collector.ingest_workers import worker_main  # noqa: E402

if __name__ == "__main__":
    pipe = Connection(int(sys.argv[1]))
    worker_main(pipe, pipe.recv())
