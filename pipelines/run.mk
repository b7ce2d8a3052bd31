# make data|train|eval DATASET=x: the recipes every dataset shares.  A
# dataset's fragment (pipelines/<x>.mk) sets what differs: CONFIG, where the
# data comes from (DATA_GEN for sp-gen, DATA_DEFAULT for a folder here,
# DATA_HELP when the user must give DATA=...), the sp-load options, how to
# evaluate (EVAL_SPLIT, COMPOSE_OPTS, METRICS) and the paper's figures.
#   ITERS=N     stop training after N iterations (a shortened schedule)
#   EPOCHS=E    train for E epochs (default: the config's training.n_epoches)
#   DEVICE=...  auto|cpu|cuda for the stages that take it
#   RUN=DIR     where the model, log and results go (build/run/<dataset>)
#   FRESH=1     start a new run even when RUN holds a checkpoint
#   VAL_EVERY=N score the val split every N iterations (500; 0: never)
RUN ?= build/run/$(DATASET)
MODEL ?= $(RUN)/model.spm
DEVICE ?= auto
SEED ?= 0
EPOCHS ?= $(shell sed -n 's/^training.n_epoches *= *//p' $(CONFIG))
BATCH ?= $(shell sed -n 's/^training.batch_size *= *//p' $(CONFIG))
DATA ?= $(DATA_DEFAULT)
SRC_TRAIN ?= $(DATA)
SRC_EVAL ?= $(DATA)
export DATASET CONFIG DATA SRC_TRAIN SRC_EVAL DATA_GEN DATA_HELP LOAD_OPTS EVAL_SPLIT COMPOSE_OPTS METRICS PAPER \
       RUN MODEL DEVICE SEED EPOCHS BATCH ITERS FRESH VAL_EVERY CHECKPOINT_EVERY
.PHONY: data train eval
data:
	@bash pipelines/data.sh
train: all data
	@bash pipelines/train.sh
eval: all data
	@bash pipelines/eval.sh
