"""CPU per span of ingest's preparation: everything an ingest worker does before SQLite runs.

    python bench/prepare.py                # about half a minute
    python bench/prepare.py --requests 60

On bench/ingest.py's requests (100 GenAI spans each) it prints, in process time per span:

  stages  decode (protobuf parse included), normalise and `encode_spans` (200 rows a
          batch) over all the requests, best of N with garbage collection off, as
          `bench/ingest.py --profile` times its stages;
  worker  `Preparer.prepare` + `encode_spans` one request at a time with garbage
          collection on: what an ingest worker process runs per request.

Nothing here touches SQLite. To compare two versions, run this same file from a checkout
of each (it imports the code of the tree it sits in).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from ingest import build_requests, machine

from otelite.collector.normalize import normalize
from otelite.config import Config
from otelite.proto import decode_protobuf
from otelite.server import preparer_for
from otelite.store.sqlite import encode_spans

LIMITS = Config().limits.value_limits()


def best(work: Callable[[], object], repeat: int, spans: int, collect: bool = False) -> tuple[float, float, object]:
    """(best, median) process time per span in us over `repeat` runs, and the last result."""
    times = []
    result: object = None
    for _ in range(repeat):
        gc.collect()
        if not collect:
            gc.disable()
        started = time.process_time()
        result = work()
        times.append(time.process_time() - started)
        gc.enable()
    return min(times) / spans * 1e6, statistics.median(times) / spans * 1e6, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="requests of 100 spans (default 100)")
    parser.add_argument("--repeat", type=int, default=7, help="runs of each measurement; the best is shown (default 7)")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    bodies = build_requests(args.requests)
    spans = len(bodies) * 100

    decode, _, records = best(lambda: [s for b in bodies for s in decode_protobuf(b, LIMITS).spans], args.repeat, spans)
    norm, _, rows = best(lambda: [normalize(s, "default") for s in records], args.repeat, spans)  # type: ignore[attr-defined]
    batches = [rows[i : i + 200] for i in range(0, len(rows), 200)]  # type: ignore[index, arg-type]
    encode, _, _ = best(lambda: [encode_spans(b) for b in batches], args.repeat, spans)
    print(
        f"stages  decode {decode:5.1f}  normalise {norm:5.1f}  encode_spans {encode:5.1f}"
        f"  total {decode + norm + encode:5.1f} us/span (best of {args.repeat}, GC off)"
    )

    preparer = preparer_for(Config())

    def worker() -> None:
        for body in bodies:
            encode_spans(preparer.prepare(body, json=False, project_id=None, principal=None).rows)

    fastest, median, _ = best(worker, args.repeat, spans, collect=True)
    print(
        f"worker  Preparer.prepare + encode_spans per request {fastest:5.1f} us/span"
        f" (best of {args.repeat}; median {median:.1f}; GC on)"
    )


if __name__ == "__main__":
    main()
