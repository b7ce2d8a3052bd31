# Instagram collections (paper 4.2.3): a folder of the user's images, 40
# sprites and a background; qualitative (no labels): eval draws the sprites
# and decompositions.  Give DATA=DIR (a plain folder of images).
CONFIG := pipelines/configs/instagram.conf
DATA_HELP := give DATA=DIR, a folder of your images (any size; they are resized to 128x128)
LOAD_OPTS := --size 128x128
EVAL_SPLIT := eval
METRICS :=
PAPER := (qualitative only)
