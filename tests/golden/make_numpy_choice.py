#!/usr/bin/python3
"""Writes tests/golden/numpy_choice.txt: the validation indices numpy's legacy
RandomState draws for the reference's splits, one case per line:
"seed n k i0 i1 ...".  Run by hand (needs numpy); CI only reads the file."""
import numpy as np

CASES = [(42, 60000, 100), (46, 10650, 100), (42, 10, 5), (46, 1000, 100), (42, 320, 100)]
with open(__file__.replace("make_numpy_choice.py", "numpy_choice.txt"), "w") as f:
    for seed, n, k in CASES:
        np.random.seed(seed)
        c = np.random.choice(range(n), k, replace=False)
        f.write(f"{seed} {n} {k} {' '.join(map(str, c))}\n")
