"""Stand-in for torchvision where Debian's python3 has none, so that the
reference's modules import (pipelines/bench-infer.sh puts this folder on
PYTHONPATH only when `import torchvision` fails).  bench.py never calls any of
these: it builds the model from the config and times it on a random batch."""
from . import datasets, models, transforms  # noqa: F401
