#!/usr/bin/env python3
"""sptensor: read and write sprites streams (formats/stream.md) with numpy.

Needs python3-msgpack and python3-numpy (Debian packages).  Tensors become
numpy arrays (little-endian, C order); every other value stays as msgpack
decodes it.

    import sys, sptensor
    for stream in sptensor.read(sys.stdin.buffer):      # concatenated streams
        w = sptensor.Writer(sys.stdout.buffer, stream.meta)
        for batch in stream:                            # dict: name -> array / value
            batch["image"] = 1.0 - batch["image"]
            w.batch(batch)
        w.end()

Errors of the contract (missing header or trailer, batches out of order, data
not matching its shape) raise sptensor.StreamError.
"""
import msgpack
import numpy as np

VERSION = 1
DTYPES = {"f32": "<f4", "f64": "<f8", "u8": "u1", "i32": "<i4", "i64": "<i8"}
NAMES = {np.dtype(v).str: k for k, v in DTYPES.items()}


class StreamError(Exception):
    pass


def to_tensor(a):
    """numpy array -> the tensor map of the stream format."""
    shape = np.shape(a)
    a = np.ascontiguousarray(a).reshape(shape)  # ascontiguousarray makes 0-d arrays 1-d
    if a.dtype == np.float32 or a.dtype == np.float64 or a.dtype == np.uint8 or \
            a.dtype == np.int32 or a.dtype == np.int64:
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    else:
        raise StreamError(f"dtype {a.dtype} has no stream equivalent (f32 f64 u8 i32 i64)")
    return {"dtype": NAMES[a.dtype.str], "shape": list(a.shape), "data": a.tobytes()}


def from_tensor(t, where="?"):
    """tensor map -> numpy array (a copy, writable)."""
    if set(t) != {"dtype", "shape", "data"}:
        raise StreamError(f"{where}: a tensor has exactly the keys dtype, shape, data")
    if t["dtype"] not in DTYPES:
        raise StreamError(f"{where}: unknown dtype {t['dtype']!r}")
    shape = [int(d) for d in t["shape"]]
    if any(d < 0 for d in shape) or len(shape) > 8:
        raise StreamError(f"{where}: bad shape {shape}")
    dt = np.dtype(DTYPES[t["dtype"]])
    if len(t["data"]) != int(np.prod(shape, dtype=np.int64)) * dt.itemsize:
        raise StreamError(f"{where}: data has {len(t['data'])} bytes, shape {shape} needs more or fewer")
    return np.frombuffer(t["data"], dt).reshape(shape).copy()


def _decode(m, where):
    return {k: (from_tensor(v, f"{where}: {k}") if isinstance(v, dict) and "dtype" in v else v)
            for k, v in m.items()}


def _encode(m):
    return {k: (to_tensor(v) if isinstance(v, np.ndarray) else v) for k, v in m.items()}


class Stream:
    """One stream of the input: .meta, and iteration over its batches."""

    def __init__(self, unpacker, meta):
        self._u = unpacker
        self.meta = meta
        self.count = 0
        self.done = False

    def __iter__(self):
        while True:
            try:
                m = next(self._u)
            except StopIteration:
                raise StreamError(f"batch {self.count}: truncated stream (no trailer)")
            if not isinstance(m, dict):
                raise StreamError(f"batch {self.count}: not a map")
            if "batch" in m:
                if m["batch"] != self.count:
                    raise StreamError(f"batch {self.count}: out of order ({m['batch']})")
                self.count += 1
                b = dict(m)
                del b["batch"]
                yield _decode(b, f"batch {self.count - 1}")
            elif "end" in m:
                if m["end"] != self.count:
                    raise StreamError(f"trailer says {m['end']} batches, the stream had {self.count}")
                self.done = True
                return
            else:
                raise StreamError(f"batch {self.count}: neither a batch nor a trailer")


def read(f):
    """Yields each Stream of a binary file object (concatenated streams)."""
    u = msgpack.Unpacker(f, raw=False, max_buffer_size=2 ** 32, strict_map_key=False)
    first = True
    while True:
        try:
            m = next(u)
        except StopIteration:
            if first:
                raise StreamError("empty input: no stream header")
            return
        if not isinstance(m, dict) or m.get("sprites") != VERSION:
            raise StreamError("not a sprites stream of version 1")
        s = Stream(u, _decode(m.get("meta", {}), "meta"))
        yield s
        if not s.done:
            for _ in s:
                pass
        first = False


class Writer:
    """Writes one stream: header at construction, batch(dict), end()."""

    def __init__(self, f, meta=None):
        self.f = f
        self.n = 0
        self.p = msgpack.Packer(use_bin_type=True)
        h = {"sprites": VERSION}
        if meta:
            h["meta"] = _encode(meta)
        f.write(self.p.pack(h))

    def batch(self, entries):
        m = {"batch": self.n}
        m.update(_encode({k: v for k, v in entries.items() if k != "batch"}))
        self.f.write(self.p.pack(m))
        self.n += 1

    def end(self):
        self.f.write(self.p.pack({"end": self.n}))
        self.f.flush()


def write(f, batches, meta=None):
    """Writes a whole stream from a list of dicts."""
    w = Writer(f, meta)
    for b in batches:
        w.batch(b)
    w.end()
