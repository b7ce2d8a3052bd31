#!/usr/bin/python3
"""Writes tests/golden/png/: small PNGs of every colour type, each with the
samples PIL decodes (<name>.u16: little-endian uint16, H*W*C interleaved,
after palette -> RGB(A) expansion), and PIL resizes (Image.resize with
BILINEAR for images, NEAREST for label maps: what torchvision's Resize does to
the reference's inputs) stored as PNGs.  Run by hand with Debian's python3
(numpy, PIL); CI only reads the files.  Manifest: cases.txt, one line per
case:  decode NAME H W C   |   resize KIND IN OUT H W"""
import os
import numpy as np
from PIL import Image

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "png")
os.makedirs(D, exist_ok=True)
rng = np.random.RandomState(7)
lines = []


def decode_case(name, img, expect):
    img.save(os.path.join(D, name + ".png"))
    a = np.asarray(expect).astype("<u2")
    if a.ndim == 2:
        a = a[:, :, None]
    a.tofile(os.path.join(D, name + ".u16"))
    lines.append(f"decode {name} {a.shape[0]} {a.shape[1]} {a.shape[2]}")


rgb = rng.randint(0, 256, (9, 7, 3)).astype(np.uint8)
decode_case("rgb", Image.fromarray(rgb, "RGB"), rgb)
rgba = rng.randint(0, 256, (5, 6, 4)).astype(np.uint8)
decode_case("rgba", Image.fromarray(rgba, "RGBA"), rgba)
grey = rng.randint(0, 256, (6, 5)).astype(np.uint8)
decode_case("grey8", Image.fromarray(grey, "L"), grey)
g16 = rng.randint(0, 65536, (4, 3)).astype(np.uint16)
im16 = Image.fromarray(g16, "I;16")
decode_case("grey16", im16, g16)
pal = Image.fromarray(rgb, "RGB").quantize(colors=5)
decode_case("palette", pal, np.asarray(pal.convert("RGB")))
bw = Image.fromarray((grey > 128).astype(np.uint8) * 255, "L").convert("1")
decode_case("grey1bit", bw, np.asarray(bw.convert("L")))
# label maps: grey ids and palette indices are the ids
lab = rng.randint(0, 6, (8, 9)).astype(np.uint8)
Image.fromarray(lab, "L").save(os.path.join(D, "labels_grey.png"))
lab.astype("<u2").tofile(os.path.join(D, "labels_grey.u16"))
lp = Image.fromarray(lab, "P")
lp.putpalette([v for i in range(256) for v in ((i * 40) % 256, (i * 90) % 256, (i * 150) % 256)])
lp.save(os.path.join(D, "labels_palette.png"))
lab.astype("<u2").tofile(os.path.join(D, "labels_palette.u16"))
lines.append("labels labels_grey 8 9")
lines.append("labels labels_palette 8 9")


def resize_case(kind, name, arr, mode, h, w):
    im = Image.fromarray(arr, mode)
    im.save(os.path.join(D, name + "_in.png"))
    out = im.resize((w, h), Image.BILINEAR if kind == "bilinear" else Image.NEAREST)
    out.save(os.path.join(D, f"{name}_out.png"))
    lines.append(f"resize {kind} {name}_in {name}_out {h} {w}")


for (ih, iw, oh, ow) in [(32, 32, 28, 28), (35, 35, 64, 64), (128, 128, 64, 48), (17, 23, 10, 31), (5, 9, 5, 4)]:
    resize_case("bilinear", f"bil_{ih}x{iw}_{oh}x{ow}", rng.randint(0, 256, (ih, iw, 3)).astype(np.uint8), "RGB", oh, ow)
resize_case("bilinear", "bil_grey_28x28_35x30", rng.randint(0, 256, (28, 28)).astype(np.uint8), "L", 35, 30)
for (ih, iw, oh, ow) in [(128, 128, 64, 64), (35, 35, 28, 28), (10, 10, 23, 23), (17, 23, 10, 31)]:
    resize_case("nearest", f"near_{ih}x{iw}_{oh}x{ow}", rng.randint(0, 7, (ih, iw)).astype(np.uint8), "L", oh, ow)

with open(os.path.join(D, "cases.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
