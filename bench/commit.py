"""Time inside the SQLite write lock per span: `SQLiteStore.commit`, conversation stats included.

    python bench/commit.py                 # about half a minute
    python bench/commit.py --requests 100 --split 3

On bench/ingest.py's requests (100 GenAI spans, 25 turns of 4 each) encoded beforehand,
it writes them into a fresh store in commits of --batch spans and prints the CPU time (this thread)
per span of the write calls only (what the ingest workers wait for each other on), best
of --repeat fresh stores. `--split N` moves every N-th span's turn across a commit
boundary: its children are committed first, its naming root with the next commit, so
those spans move conversation (with their stats) when the root arrives, as when an SDK
exports children before the root in another request.

To compare two versions, run this same file from a checkout of each (it imports the code
of the tree it sits in).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from ingest import build_requests, machine

from otelite.collector.normalize import normalize
from otelite.config import Config
from otelite.proto import decode_protobuf
from otelite.store.sqlite import SQLiteStore, encode_spans

LIMITS = Config().limits.value_limits()


def commits(rows: list, batch: int, split: int) -> list[list]:
    """`rows` in commits of `batch`; with `split`, every split-th commit's last turn's root
    (its 4th span, which names the conversation) goes to the next commit instead."""
    groups = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    if split:
        for i in range(0, len(groups) - 1, split):
            root = groups[i].pop()
            groups[i + 1].insert(0, root)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="requests of 100 spans (default 100)")
    parser.add_argument("--batch", type=int, default=200, help="spans per commit (default 200)")
    parser.add_argument("--split", type=int, default=0, help="move a turn's root to the next commit every N commits")
    parser.add_argument("--repeat", type=int, default=5, help="fresh stores written; the best is shown (default 5)")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    bodies = build_requests(args.requests)
    rows = [normalize(s, "default") for b in bodies for s in decode_protobuf(b, LIMITS).spans]
    groups = commits(rows, args.batch, args.split)
    moved = 3 * (len(range(0, len(groups) - 1, args.split)) if args.split else 0)  # a split turn's 3 children
    encoded = [encode_spans(group) for group in groups]
    times = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as directory:
            store = SQLiteStore(Path(directory) / "otelite.db")
            try:
                gc.collect()
                gc.disable()
                spent = 0.0
                for part in encoded:
                    started = time.thread_time()
                    store.commit([part])
                    spent += time.thread_time() - started
                gc.enable()
            finally:
                store.close()
        times.append(spent)
    per_span = sorted(t / len(rows) * 1e6 for t in times)
    print(
        f"commit {per_span[0]:5.1f} us/span (best of {args.repeat}; median {per_span[len(per_span) // 2]:.1f}),"
        f" {len(rows)} spans in {len(encoded)} commits of ~{args.batch}, {moved} spans moved conversation"
    )


if __name__ == "__main__":
    main()
