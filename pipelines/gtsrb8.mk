# GTSRB-8 (paper Table 3): 10,650 traffic signs in 8 classes (class folders,
# ../shared/data/gtsrb8); clustering accuracy over the whole set.
CONFIG := pipelines/configs/gtsrb8.conf
DATA_DEFAULT := ../shared/data/gtsrb8
LOAD_OPTS := --size 28x28
EVAL_SPLIT := eval
METRICS := acc nmi
PAPER := acc 0.894
