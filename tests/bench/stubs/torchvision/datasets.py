"""Names the reference's dataset modules import; not usable (see __init__)."""
from .transforms import _Unavailable

SVHN = _Unavailable
