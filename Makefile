# sprites — DTI-Sprites as a pipeline of Unix filters.
#   make            build every program into bin/ (objects in build/)
#   make test       unit + CLI tests, ends with "N passed, M failed"
#   make demo       generate Tetrominoes, train 11,000 iterations (~5 min), decompose,
#                   evaluate, draw (build/demo/) [DEMO_ITERS= DEMO_SECONDS= DEMO_BATCH= DEMO_DIR=]
#   make CUDA=0     CPU-only build even where nvcc exists
#   make test SANITIZE=1   the same tests under ASan + UBSan
#   make fuzz FUZZ_SECONDS=60   libFuzzer on the stream reader
#   make data|train|eval DATASET=x [ITERS=N EPOCHS=E DEVICE=d DATA=DIR]
#                   a paper configuration end to end (pipelines/<x>.mk, run.mk)
#   make test-cuda  every CUDA op against the CPU's (skipped without a GPU)
#   make STATIC_DEPS=1   msgpack-c, libpng, zlib linked statically
.DEFAULT_GOAL := all
SHELL := /bin/bash

PKGS := libpng msgpack zlib openblas
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# OpenBLAS is not linked: common/sp_blas.c opens it at its first sgemm
# (most stages never call one, and loading it costs every start ~9 ms)
PKG_LIBS := $(shell pkg-config --libs $(filter-out openblas,$(PKGS)) 2>/dev/null)
BLAS_MODE := dlopen
# DEPS_DIR=build/deps: headers and static libraries of msgpack-c, libpng,
# zlib and OpenBLAS copied by pipelines/cuda-carry.sh, for a machine that
# lacks the packages (the GPU machine); used instead of pkg-config.
DEPS_DIR ?=
ifneq ($(strip $(DEPS_DIR)),)
PKG_CFLAGS := -I$(DEPS_DIR)/include
PKG_LIBS := -L$(DEPS_DIR)/lib -lpng16 -lmsgpackc -lz -lopenblas -lpthread
BLAS_MODE := linked
endif

# nvcc: PATH first, then the toolkit's standard location.
NVCC ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
ifeq ($(strip $(NVCC)),)
CUDA ?= 0
else
CUDA ?= 1
endif
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))

SANITIZE ?= 0
VARIANT := cpu
ifeq ($(CUDA),1)
VARIANT := cuda
endif
ifeq ($(SANITIZE),1)
VARIANT := $(VARIANT)-san
endif
OBJ := build/obj-$(VARIANT)

CC := gcc
CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -fopenmp -Icommon $(PKG_CFLAGS)
LDLIBS := $(PKG_LIBS) -fopenmp -lm
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDLIBS += -fsanitize=address,undefined
endif

NVCCFLAGS := -O2 -std=c++17 -Icommon -gencode arch=compute_90,code=sm_90 \
             -gencode arch=compute_90,code=compute_90 -Werror all-warnings \
             -Xcompiler -Wall,-Wextra,-Werror
# cuDNN and cuBLAS: the toolkit's lib64 by default; on a machine where they
# come as pip packages (nvidia-cudnn-cu13, nvidia-cublas) name their lib/
# folders: make CUDNN_LIB=.../nvidia/cudnn/lib CUBLAS_LIB=.../nvidia/cublas/lib
CUDNN_LIB ?= $(CUDA_HOME)/lib64
CUBLAS_LIB ?= $(CUDA_HOME)/lib64
CUDNN_INC ?=
ifneq ($(strip $(CUDNN_INC)),)
NVCCFLAGS += -I$(CUDNN_INC)
endif
ifeq ($(CUDA),1)
CFLAGS += -DSP_HAVE_CUDA=1
# --as-needed: programs that use no GPU library do not depend on it at run time
LDLIBS += -Wl,--as-needed -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 \
          -L$(CUDNN_LIB) -Wl,-rpath,$(CUDNN_LIB) -L$(CUBLAS_LIB) -Wl,-rpath,$(CUBLAS_LIB) \
          -lcudnn -lcublas -lcudart -lstdc++ -Wl,--no-as-needed
# the stages without a CUDA path open the runtime only when --device asks
# (common/sp_device_stage.c): the soname of the one linked here
CUDART_SONAME := $(shell readelf -d $(CUDA_HOME)/lib64/libcudart.so 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
ifneq ($(strip $(CUDART_SONAME)),)
$(OBJ)/common/sp_device_stage.o: CFLAGS += -DSP_CUDART_SONAME='"$(CUDART_SONAME)"'
endif
endif

# STATIC_DEPS=1: link msgpack-c, libpng, zlib and OpenBLAS statically
# (Debian's libmsgpackc.a, libpng16.a, libz.a, libopenblas.a), so that the
# programs run on a machine without those packages (the GPU machine, which
# has no package registry): they then need only glibc, libgomp, libstdc++
# and the CUDA libraries.  Build here with it and carry bin/, or carry the
# .a files and build there (README, CUDA).
STATIC_DEPS ?= 0
ifeq ($(STATIC_DEPS),1)
STATIC_LIBS := -Wl,-Bstatic -lpng16 -lmsgpackc -lz -lopenblas -Wl,-Bdynamic -lpthread
LDLIBS := $(filter-out -lpng16 -lmsgpackc -lz -lopenblas,$(PKG_LIBS)) $(STATIC_LIBS) \
          $(filter-out $(PKG_LIBS),$(LDLIBS))
BLAS_MODE := linked
endif
ifeq ($(BLAS_MODE),linked)
CFLAGS += -DSP_BLAS_LINKED=1
endif

LIB_SRC := $(sort $(wildcard common/*.c))
CU_SRC := $(sort $(wildcard cuda/*.cu))
LIB_OBJ := $(LIB_SRC:%.c=$(OBJ)/%.o)
ifeq ($(CUDA),1)
LIB_OBJ += $(CU_SRC:%.cu=$(OBJ)/%.o)
endif
LIB := $(OBJ)/libsprites.a

PROG_SRC := $(sort $(wildcard bin/sp-*.c))
PROGS := $(PROG_SRC:.c=)
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TESTS := $(TEST_SRC:tests/unit/%.c=$(OBJ)/tests/%)
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TOOLS := $(TOOL_SRC:tests/tools/%.c=$(OBJ)/tests/tools/%)

# Programs in bin/ are shared by every variant: a stamp records which one
# built them, and whether OpenBLAS is linked or opened (sp_blas.o differs,
# and the link line), so that switching (SANITIZE=1, CUDA=0, STATIC_DEPS=1)
# rebuilds what differs.
STAMP := build/variant
STAMP_TEXT := $(VARIANT) blas-$(BLAS_MODE)
$(shell mkdir -p build; test "`cat $(STAMP) 2>/dev/null`" = "$(STAMP_TEXT)" || echo $(STAMP_TEXT) > $(STAMP))
$(OBJ)/common/sp_blas.o: $(STAMP)

.SECONDARY:
.PHONY: all test test-unit test-cli demo deps fuzz clean bench bench-learn test-cuda
all: $(PROGS) $(TESTS) $(TOOLS)

$(OBJ)/%.o: %.c $(wildcard common/*.h tests/unit/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(OBJ)/%.o: %.cu $(wildcard common/*.h cuda/*.h) Makefile
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

bin/sp-%: $(OBJ)/bin/sp-%.o $(LIB) $(STAMP)
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(OBJ)/tests/%: $(OBJ)/tests/unit/%.o $(LIB) $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(OBJ)/tests/tools/%: $(OBJ)/tests/tools/%.o $(LIB) $(STAMP)
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

deps:
	@bash pipelines/deps.sh build

test: deps
	@$(MAKE) --no-print-directory -j2 all
	@OBJ=$(OBJ) SANITIZE=$(SANITIZE) bash tests/run.sh

# Every op with a CUDA implementation on CPU and GPU, forward and backward
# (tests/cuda/run.sh); "skipped: no usable GPU" without one.
test-cuda: all
	@bash tests/cuda/run.sh

demo: deps
	@$(MAKE) --no-print-directory -j2 all
	@bash pipelines/demo.sh

fuzz: $(LIB)
	@bash pipelines/deps.sh fuzz
	@bash tests/fuzz/run.sh $(or $(FUZZ_SECONDS),30) $(OBJ)/common

clean:
	rm -rf build $(PROGS)

# make data|train|eval DATASET=x: one fragment per data set (pipelines/*.mk)
DATASETS := $(sort $(patsubst pipelines/%.mk,%,$(filter-out pipelines/run.mk,$(wildcard pipelines/*.mk))))
ifneq ($(DATASET),)
ifeq ($(filter $(DATASET),$(DATASETS)),)
$(error DATASET=$(DATASET) is not one of: $(DATASETS))
endif
include pipelines/$(DATASET).mk
include pipelines/run.mk
else
data train eval:
	@echo "make $@: give DATASET=one of: $(DATASETS)" >&2; exit 1
endif

bench: all
	@bash pipelines/bench-io.sh
	@bash pipelines/bench-ops.sh $(OBJ)
	@bash pipelines/bench-train.sh
	@bash pipelines/bench-infer.sh $(OBJ)

# sp-train and the reference learning the demo's recipe from one start on
# one stream (~16 min; ITERS=3000 SEED=1 by default): not part of bench
bench-learn: all
	@ITERS=$(ITERS) SEED=$(SEED) bash pipelines/bench-learn.sh
