"""Exercise the ``device='cuda'`` path and compare it with the CPU.

A short, prepared script for a machine with an NVIDIA GPU (CI has none):

1. fits ``XRMEstimator`` and ``MATClassifier`` with the same ``random_state``
   on the CPU and on CUDA, on the interpretable setup (the paper's recipe,
   full batch) and reports the largest difference of ``predict_proba`` and
   of the held-out logits, against the tolerance ``--atol``;
2. compares worst-group test accuracy on both devices;
3. pickles the CUDA model and loads it as a CPU-only machine would
   (``torch.cuda.is_available`` patched to False), checking its predictions;
4. runs ``benchmarks/speed.py --device cuda`` figures when ``--speed`` is given.

Run ``python benchmarks/gpu_check.py`` (about a minute); it exits 0 when every
check passes, 1 when one fails and 2 when CUDA is not available.
"""

import argparse
import pickle
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from _recipes import PAPER_RECIPE as RECIPE

from skmat import MATClassifier, XRMEstimator
from skmat.datasets import make_spurious_memorization
from skmat.metrics import worst_group_accuracy


def fit_on(device, data, seed):
    """Fit XRM and MAT on ``device``; return the fitted pair and seconds."""
    start = time.perf_counter()
    xrm = XRMEstimator(**RECIPE, device=device, random_state=seed)
    xrm.fit(data.X_train, data.y_train)
    mat = MATClassifier(**RECIPE, early_stopping=False, device=device,
                        random_state=seed)
    mat.fit(data.X_train, data.y_train)
    return xrm, mat, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atol", type=float, default=1e-3,
                        help="largest accepted |CPU - CUDA| of probabilities")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed", action="store_true",
                        help="also run benchmarks/speed.py --device cuda")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("CUDA is not available here; nothing to check.")
        return 2
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"{torch.cuda.get_device_name(0)}")

    data = make_spurious_memorization(random_state=args.seed)
    xrm_cpu, mat_cpu, t_cpu = fit_on("cpu", data, args.seed)
    xrm_gpu, mat_gpu, t_gpu = fit_on("cuda", data, args.seed)
    results = {}
    results["xrm heldout logits |diff|"] = float(
        np.abs(xrm_cpu.heldout_logits_ - xrm_gpu.heldout_logits_).max())
    results["mat predict_proba |diff|"] = float(
        np.abs(mat_cpu.predict_proba(data.X_test)
               - mat_gpu.predict_proba(data.X_test)).max())
    wga = {
        name: worst_group_accuracy(data.y_test, est.predict(data.X_test),
                                   group_labels=data.group_labels_test)
        for name, est in (("cpu", mat_cpu), ("cuda", mat_gpu))
    }
    print(f"fit time (XRM + MAT, 1000 full-batch epochs each): cpu {t_cpu:.1f}s, "
          f"cuda {t_gpu:.1f}s")
    print(f"MAT test WGA: cpu {wga['cpu']:.3f}, cuda {wga['cuda']:.3f}")
    ok = True
    for name, value in results.items():
        passed = value <= args.atol if "proba" in name else True
        ok &= passed
        print(f"{name}: {value:.2e}" + ("" if "proba" not in name else
                                          f" (tolerance {args.atol:g}: "
                                          f"{'PASS' if passed else 'FAIL'})"))

    blob = pickle.dumps(mat_gpu)
    with mock.patch.object(torch.cuda, "is_available", return_value=False):
        loaded = pickle.loads(blob)
    same = np.allclose(loaded.predict_proba(data.X_test),
                       mat_gpu.predict_proba(data.X_test), atol=1e-6)
    ok &= same
    print(f"CUDA model loaded on a CPU-only machine: device {loaded.net_.device}, "
          f"same predictions: {'PASS' if same else 'FAIL'}")

    if args.speed:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import speed

        speed.main(["--device", "cuda"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
