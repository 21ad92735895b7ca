"""Probe: does a short process that reads a Parquet file and exits abort at exit?

pyarrow's read-ahead of a Python file object can outlive the read, and a process that exits soon
after aborts in C++ ("terminate called without an active exception", exit 134;
apache/arrow#34314). ``offerwise._io.read_parquet`` lets pyarrow open the path itself. This runs
``--runs`` fresh processes per reader on one small file and counts the exits that are not 0; the
first two rows are the baselines in the same run. The abort is a race: counts move with the
machine's load.

    .venv/bin/python benchmarks/probe_parquet_exit.py [--runs 40]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

READERS = {
    "pyarrow on a Python file object": (
        "import pyarrow.parquet as pq\n"
        "with open(P, 'rb') as f: n = pq.read_table(f).num_rows\nprint(n)"
    ),
    "pd.read_parquet(path)": "import pandas as pd\nprint(len(pd.read_parquet(P)))",
    "offerwise._io.read_parquet(path)": (
        "from offerwise._io import read_parquet\nprint(len(read_parquet(P)))"
    ),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40, help="processes per reader")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "t.parquet"
        pd.DataFrame({"a": np.arange(6), "b": list("abcdef")}).to_parquet(p, index=False)
        print(f"{'reader':36} {'aborted':>8} {'runs':>5}  exit codes")
        for name, body in READERS.items():
            code = f"P = {str(p)!r}\n{body}"
            rcs = [
                subprocess.run([sys.executable, "-c", code], capture_output=True).returncode
                for _ in range(args.runs)
            ]
            bad = [rc for rc in rcs if rc != 0]
            print(f"{name:36} {len(bad):>8} {args.runs:>5}  {sorted(set(bad)) or '-'}")


if __name__ == "__main__":
    main()
