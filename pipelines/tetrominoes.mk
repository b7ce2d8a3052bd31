# Tetrominoes (paper Table 1): 60k generated images, 3 pieces each; ARI-FG on
# the first 320 (background pixels given to the nearest layer) and ARI.
CONFIG := pipelines/configs/tetro.conf
DATA_GEN := tetrominoes 60000
DATA_DEFAULT := build/data/tetrominoes
EVAL_SPLIT := eval
COMPOSE_OPTS := --fg-reassign
METRICS := ari_fg ari
PAPER := ari_fg 0.996 ari 0.998
