# Weizmann Horse (paper Table 4): 327 images + masks (../shared/data/weizmann-horse);
# foreground accuracy over the whole set.
CONFIG := pipelines/configs/horse.conf
DATA_DEFAULT := ../shared/data/weizmann-horse
LOAD_OPTS := --split-rule horse --size 128x128
EVAL_SPLIT := eval
METRICS := fg_acc ari
PAPER := fg_acc 0.879
