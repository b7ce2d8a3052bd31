# Fashion-MNIST (not in the paper): 28x28 grey clothes in 10 classes, from
# Debian's dataset-fashion-mnist; clustering accuracy on the test set.
CONFIG := pipelines/configs/fashion-mnist.conf
DATA_DEFAULT := /usr/share/datasets/fashion-mnist
DATA_HELP := install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or give DATA=DIR with its IDX files
LOAD_OPTS := --channels 1
EVAL_SPLIT := eval
METRICS := acc nmi
PAPER := (none: not in the paper)
SRC_TRAIN = --idx $(DATA)/train-images-idx3-ubyte.gz $(DATA)/train-labels-idx1-ubyte.gz
SRC_EVAL = --idx $(DATA)/t10k-images-idx3-ubyte.gz $(DATA)/t10k-labels-idx1-ubyte.gz
