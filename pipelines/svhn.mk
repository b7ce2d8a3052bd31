# SVHN (paper Table 3): digits; clustering accuracy over the labelled set.
# Not included here: give DATA=DIR with class folders 0..9 of 32x32 PNGs (or
# IDX files, formats/dataset.md).
CONFIG := pipelines/configs/svhn.conf
DATA_HELP := SVHN is not included: give DATA=DIR with class folders (DIR/0 .. DIR/9 of PNGs; formats/dataset.md)
LOAD_OPTS := --size 32x32
EVAL_SPLIT := eval
METRICS := acc nmi
PAPER := acc 0.631
