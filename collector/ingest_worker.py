"""An ingest worker process's entry point: `python -P -m otelite.collector.ingest_worker FD`.

FD is the worker's end of its pipe to the server, which sends the WorkerSettings first
(see collector.ingest).
"""

import sys
from multiprocessing.connection import Connection

from otelite.lean import refuse_dataframe_libraries

refuse_dataframe_libraries()  # ~80 MB a worker otherwise (see otelite.lean)

from otelite.collector.ingest import worker_main

if __name__ == "__main__":
    pipe = Connection(int(sys.argv[1]))
    worker_main(pipe, pipe.recv())
