"""Names the reference's dataset modules import; not usable (see __init__)."""


class _Unavailable:
    def __init__(self, *a, **k):
        raise RuntimeError("torchvision stub: not available")


ToTensor = Compose = Resize = CenterCrop = _Unavailable
