# CLEVR6 (paper Table 1): 34,963 rendered images with 3-6 objects; ARI on the
# first 320.  It cannot be generated or downloaded here: put it in the
# DTI-Sprites layout (DIR/images/{i}.png, DIR/masks/{i}.png, 128x128,
# formats/dataset.md) and give DATA=DIR.
CONFIG := pipelines/configs/clevr6.conf
DATA_HELP := CLEVR6 is not included: convert it to the DTI-Sprites layout (DIR/images, DIR/masks; formats/dataset.md) and run with DATA=DIR
EVAL_SPLIT := eval
COMPOSE_OPTS := --fg-reassign
METRICS := ari ari_fg
PAPER := ari 0.907
