"""Makes the reference implementation importable, read-only and unmodified.

Importing this module puts on sys.path, first,
  $SP_REFERENCE/ref/src   the reference's own code (`model`, `scheduler`, ...)
  $SP_REFERENCE/stubs     its kornia stand-in (homography_warp and helpers)
where SP_REFERENCE defaults to ../shared/reference-bench beside the repository.
The reference's transformer.py imports torchvision at module level for a VGG
encoder that no golden case or benchmark builds, and Debian's python3 has no
torchvision: when it cannot be imported, a stub whose vgg16_bn is None stands
in.  Shared by the make_ops_*.py generators and tests/bench/ops_bench.py so
that all of them import the same reference the same way."""
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.environ.get("SP_REFERENCE",
                     os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "reference-bench")))
sys.path.insert(0, os.path.join(REF, "stubs"))
sys.path.insert(0, os.path.join(REF, "ref", "src"))

try:
    import torchvision.models  # noqa: F401
except ImportError:
    _tv, _tvm = types.ModuleType("torchvision"), types.ModuleType("torchvision.models")
    _tvm.vgg16_bn, _tv.models = None, _tvm
    sys.modules["torchvision"], sys.modules["torchvision.models"] = _tv, _tvm
