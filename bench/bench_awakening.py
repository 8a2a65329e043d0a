"""Awakening model throughput: 1,000,000 patients x 3 episodes, vectorised, one core.

Floor: ``np.exp`` over the same number of episode slots (n x k), the cheapest elementwise
numpy pass of that shape. Target (issue 3): the batch in under 5 s. Threads are pinned to one
(OMP/OpenBLAS/MKL) before numpy is imported, in a fresh process, so the figure is one core's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench._harness import Measurement

N_PATIENTS = 1_000_000
N_EPISODES = 3
TARGET_SECONDS = 5.0

_CHILD = r"""
import json, sys, time
import numpy as np
from riskcalc import awakening as aw

n, k = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(20251)
years = 365.25
onset = np.sort(rng.uniform(0, 10 * years, (n, k)), axis=1)
as_of = onset[:, -1] + rng.uniform(0, 3 * years, n)
il6 = np.where(rng.random((n, k)) < 0.2, rng.lognormal(3.0, 1.2, (n, k)), np.nan)
pathogen = rng.integers(0, len(aw.PATHOGEN_CODES), (n, k))
severity = rng.choice(3, size=(n, k), p=[0.85, 0.12, 0.03])
blockade = rng.random((n, k)) < 0.01
steroids = rng.random((n, k)) < 0.05
mask = rng.random((n, k)) < 0.95
kw = dict(onset_days=onset, as_of_days=as_of, il6_peak_pg_ml=il6, pathogen=pathogen,
          severity=severity, il6_blockade=blockade, corticosteroids=steroids, mask=mask)
aw.score_arrays(**{key: v[:1000] for key, v in kw.items()})  # warm caches (parameters, calibration)

def best(f, repeat=3):
    out = []
    for _ in range(repeat):
        t = time.perf_counter(); f(); out.append(time.perf_counter() - t)
    return min(out)

model = best(lambda: aw.score_arrays(**kw))
floor = best(lambda: np.exp(onset))
res = aw.score_arrays(**kw)
print(json.dumps({"model": model, "floor": floor, "mean_score": float(res.score.mean())}))
"""


def _measure(n: int, k: int) -> dict[str, float]:
    env = dict(os.environ)
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    ):
        env[var] = "1"
    cmd = [sys.executable, "-c", _CHILD, str(n), str(k)]
    if sys.platform.startswith("linux"):
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run() -> list[Measurement]:
    m = _measure(N_PATIENTS, N_EPISODES)
    seconds, floor = m["model"], m["floor"]
    return [
        Measurement(
            name="awakening_batch_1M_x3",
            value=seconds,
            unit="s",
            floor_name="np.exp over n x k",
            floor_value=floor,
            ratio=seconds / floor,
            target=f"< {TARGET_SECONDS:g} s",
            met=seconds < TARGET_SECONDS,
            notes=f"{N_PATIENTS / seconds:,.0f} patients/s on one core "
            f"(threads pinned, taskset core 0); mean score {m['mean_score']:.3f}",
        ),
        Measurement(
            name="awakening_patients_per_second",
            value=N_PATIENTS / seconds,
            unit="patients/s",
            notes="1,000,000 patients x 3 episodes through riskcalc.awakening.score_arrays",
        ),
    ]
