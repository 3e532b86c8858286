"""Keep otelite's own processes small."""

from __future__ import annotations

import sys

DATAFRAME_LIBRARIES = ("pandas", "numpy")


def refuse_dataframe_libraries() -> None:
    """Make `import pandas` / `import numpy` fail in this process, unless already imported.

    sqlite-utils imports them when they are installed, for DataFrame helpers otelite
    never uses: ~80 MB of memory per process (measured: `otelite serve` 158 MB idle with
    them, 77 MB without). Call it before anything imports sqlite-utils.
    """
    for name in DATAFRAME_LIBRARIES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
