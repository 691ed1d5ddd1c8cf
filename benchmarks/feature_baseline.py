"""The feature code of an earlier commit, run on the same inputs: a baseline measured in the same run.

An optimisation of the feature code must not change a single feature value. The benchmarks check that
before timing: the ``features`` package as it was at ``BASELINE_REV`` (the last commit before the
issue-7 throughput work) is extracted with ``git archive`` and run in a child process on the same
events, outcomes and reference tables; its vectors must equal the current code's bit for bit, and its
replay time is reported next to the current one.

The child imports nothing of ours but that old ``features`` package (and ``portrisk.errors``), so the
baseline keeps working while the rest of the code moves on.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BASELINE_REV = "44ddd8411ccf488081097232c2284ee42d51c85f"
REPO = Path(__file__).resolve().parent.parent

_CHILD = """
import gzip, json, pickle, sys, time
import numpy as np
import features
import features.tables as old
from features.pipeline import FeaturePipeline
from features.replay import replay
from features.rows import event_rows, outcome_rows
from features.state import InMemoryStore
package, inputs, output = sys.argv[1:4]
assert features.__file__.startswith(package), f"imported {features.__file__}, not the baseline in {package}"
with open(inputs, "rb") as f:
    events, outcomes, tables = pickle.load(f)
# Tables of a later format: the baseline reads what it knows (features added since are compared by name).
document = json.loads(gzip.decompress(tables))
document["format"] = old.TABLES_FORMAT
document["encodings"] = {k: v for k, v in document["encodings"].items()
                         if k in old.ENCODINGS or k.startswith("extra_")}
pipeline = FeaturePipeline(old.ReferenceTables.from_dict(document))
began, began_cpu = time.perf_counter(), time.process_time()
X = replay(pipeline, event_rows(events), outcome_rows(outcomes), InMemoryStore())
seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - began_cpu
if output:
    np.save(output, X)
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "names": list(pipeline.names)}))
"""


class Baseline:
    """The ``features`` package of ``rev`` in ``work``, and a replay of one input set through it."""

    def __init__(self, rev: str, work: Path) -> None:
        """Extract ``features/`` as of ``rev``; RuntimeError naming the problem when git cannot."""
        self.rev = rev
        self.root = work / f"baseline-{rev[:12]}"
        done = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev, "features"],
                              capture_output=True)
        if done.returncode:
            raise RuntimeError(f"cannot extract the baseline feature code of {rev} with git archive "
                               f"({done.stderr.decode(errors='replace').strip()}); pass --baseline none to skip it")
        with tarfile.open(fileobj=BytesIO(done.stdout)) as archive:
            archive.extractall(self.root, filter="data")
        self._inputs = work / f"baseline-inputs-{rev[:12]}.pkl"
        self.names: tuple[str, ...] = ()  # the baseline's feature names, known after a replay
        self.new_features: list[str] = []  # features the current code adds (after check_identical)

    def set_inputs(self, events: pd.DataFrame, outcomes: pd.DataFrame, tables: bytes) -> None:
        """The events, outcomes and serialised reference tables every later :meth:`replay` uses."""
        with self._inputs.open("wb") as f:
            pickle.dump((events, outcomes, tables), f, protocol=pickle.HIGHEST_PROTOCOL)

    def replay(self, output: Path | None = None) -> tuple[float, float]:
        """Wall-clock and CPU seconds the baseline's replay of the inputs took (timed in the child); its
        vectors to ``output``."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(self.root), str(REPO)]))
        done = subprocess.run([sys.executable, "-c", _CHILD, str(self.root), str(self._inputs), str(output or "")],
                              capture_output=True, text=True, env=env, cwd=self.root)
        if done.returncode:
            raise RuntimeError(f"the baseline replay failed: {done.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        self.names = tuple(result["names"])
        return float(result["seconds"]), float(result["cpu_seconds"])

    def check_identical(self, current: np.ndarray, names: tuple[str, ...], work: Path) -> None:
        """AssertionError unless the baseline's vectors equal ``current`` bit for bit (NaNs included).

        Columns are matched by feature name: features added since the baseline are left out of the
        comparison (and listed in :attr:`new_features`); every baseline feature must still exist.
        """
        path = work / "baseline-vectors.npy"
        self.replay(path)
        previous = np.load(path)
        missing = [n for n in self.names if n not in names]
        assert not missing, f"features of the baseline {self.rev[:12]} no longer computed: {missing}"
        self.new_features = [n for n in names if n not in self.names]
        columns = [names.index(n) for n in self.names]
        shared = np.ascontiguousarray(current[:, columns])
        assert previous.shape == shared.shape and previous.dtype == shared.dtype, (
            f"baseline gives {previous.shape} {previous.dtype}, the current code {shared.shape} {shared.dtype}")
        differ = np.flatnonzero((previous.view(np.uint32) != shared.view(np.uint32)).any(axis=0))
        assert not differ.size, (f"features differ from the baseline {self.rev[:12]}: "
                                 f"{[self.names[i] for i in differ]}")
