# Multi-dSprites (paper Table 1): 60k generated images, 2-5 shapes on a grey
# background; ARI-FG on the first 320 and ARI.
CONFIG := pipelines/configs/dsprites.conf
DATA_GEN := multi-dsprites 60000
DATA_DEFAULT := build/data/multi-dsprites
EVAL_SPLIT := eval
COMPOSE_OPTS := --fg-reassign
METRICS := ari_fg ari
PAPER := ari_fg 0.925 ari 0.951
