# diffpo — plain Makefile.  `make help` lists the targets.
#
#   make            CPU library (static + shared) and the diffpo CLI, no CUDA
#   make run        the main job on its built-in default
#   make test       the whole test suite (ends with "N passed, M failed")
#   make CUDA=1     also compiles kernels/ with nvcc

CC      ?= cc
OPT     ?= -O2
BUILD   ?= build
CUDA    ?= 0
NVCC    ?= nvcc
PYTHON  ?= python3

CSTD     = -std=c99
WARN     = -Wall -Wextra -Werror -pedantic
# Bit-reproducibility: no contraction into FMA, never fast-math, SSE2 on x86.
# The target architecture is the compiler's (`$(CC) -dumpmachine`, e.g.
# aarch64-linux-gnu), not the host's, so `make CC=aarch64-linux-gnu-gcc
# BUILD=build/aarch64` cross-builds with no other variable.
FPFLAGS  = -ffp-contract=off -fno-fast-math
ARCH    := $(firstword $(subst -, ,$(shell $(CC) -dumpmachine 2>/dev/null)))
ifeq ($(ARCH),)
ARCH    := $(shell uname -m)
endif
ifneq ($(filter x86_64 amd64 i386 i486 i586 i686,$(ARCH)),)
FPFLAGS += -msse2 -mfpmath=sse
endif
CPPFLAGS += -Iinclude -D_POSIX_C_SOURCE=200809L
CFLAGS  ?=
ALLCFLAGS = $(CSTD) $(WARN) $(FPFLAGS) $(OPT) -g -fPIC $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS   = -lxxhash -lpthread -lm
LDFLAGS ?=

# Three layers (docs/api.md): the verified core (src/*.c, element math in src/core/),
# the built-in model and trainers (src/model/), both in libdiffpo; the tools
# (src/tools/: npy, plots, vector files) in libdiffpo_tools.a, which the CLI,
# tests and fuzzers link and the library never does.
CORE_SRC := $(sort $(wildcard src/*.c))
MODEL_SRC:= $(sort $(wildcard src/model/*.c))
TOOLS_SRC:= $(sort $(wildcard src/tools/*.c))
LIB_SRC  := $(CORE_SRC) $(MODEL_SRC)
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC:= $(sort $(wildcard tests/bench_*.c))
HDRS     := $(wildcard include/*.h src/core/*.h src/*.h src/model/*.h src/tools/*.h src/cli/*.h tests/*.h)

LIB_OBJ  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
TOOLS_OBJ:= $(patsubst src/%.c,$(BUILD)/obj/%.o,$(TOOLS_SRC))
CLI_OBJ  := $(patsubst src/cli/%.c,$(BUILD)/obj/cli/%.o,$(CLI_SRC))
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
BENCH_BIN:= $(patsubst tests/%.c,$(BUILD)/tests/%,$(BENCH_SRC))

CU_SRC   := $(sort $(wildcard kernels/*.cu))
CU_OBJ   := $(patsubst kernels/%.cu,$(BUILD)/cuda/%.o,$(CU_SRC))
# -fmad=false reaches only device code: the host half of every .cu file gets
# the C side's FPFLAGS through -Xcompiler (g++ contracts in C++ by default).
# $(BUILD)/cuda/host_fp_probe.ok fails the build if host code still contracts.
NVFLAGS  = -std=c++17 -O3 -fmad=false -prec-div=true -prec-sqrt=true -Xcompiler -fPIC \
           -Xcompiler $(subst $(space),$(comma),$(strip $(FPFLAGS))) \
           -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 \
           -Iinclude -Werror all-warnings
comma := ,
space := $(subst ,, )
# The probe's host target: one with FMA instructions, so contraction would show.
HOST_FMA_ARCH :=
ifeq ($(ARCH),x86_64)
HOST_FMA_ARCH := -Xcompiler -march=haswell
endif

CUDA_HOME ?= /usr/local/cuda
LIBA  = $(BUILD)/libdiffpo.a
LIBSO = $(BUILD)/libdiffpo.so
LIBTOOLS = $(BUILD)/libdiffpo_tools.a
CLI   = $(BUILD)/diffpo

ifeq ($(CUDA),1)
ALLCFLAGS += -DDPO_WITH_CUDA=1
LDLIBS += -L$(CUDA_HOME)/lib64 -lcublasLt -lcudart -lstdc++
LIB_OBJ += $(CU_OBJ)
endif

.PHONY: all run test check deps help clean cuda-check asan valgrind fuzz bench lint repro vectors tests-bin \
        gpu-bin test-gpu bench-gpu

all: $(LIBA) $(LIBSO) $(LIBTOOLS) $(CLI)

help:
	@echo "make              build libdiffpo.a, libdiffpo.so and the diffpo CLI (CPU)"
	@echo "make run          the main job on its built-in default"
	@echo "make test         the whole test suite"
	@echo "make check        the fast loop: unit tests, header checks and the golden vectors (seconds)"
	@echo "make deps         install missing system/Python dependencies"
	@echo "make CUDA=1       also build kernels/ with nvcc"
	@echo "make cuda-check   compile the shared element math and kernels/ with nvcc"
	@echo "make test-gpu     CUDA build, GPU tests (bitwise against the CPU) and compute-sanitizer"
	@echo "make bench-gpu    CUDA build and GPU benchmarks (writes docs/performance.md numbers)"
	@echo "make test-emu     the GPU tests with kernels/ on a CPU emulation of the CUDA runtime (no GPU)"
	@echo "make py-emu-lib   libdiffpo.so with kernels/ on that emulation (the Python CUDA route's test)"
	@echo "make asan         the unit tests under ASan+UBSan (clang or gcc)"
	@echo "make valgrind     the unit tests and CLI scripts under valgrind memcheck"
	@echo "make fuzz         build and run every libFuzzer harness to 10^7 executions (clang; hours)"
	@echo "make repro        fingerprints across gcc/clang, -O0/-O3, threads, splits"
	@echo "make bench        CPU benchmarks (with NumPy ratios when available)"
	@echo "make vectors      regenerate vectors/ with the independent generator"
	@echo "make CC=aarch64-linux-gnu-gcc BUILD=build/aarch64"
	@echo "                  cross-build (the target architecture is taken from CC); run the"
	@echo "                  result with qemu-aarch64, as tests/cross_aarch64.sh does in make test"
	@echo "make install      headers, libdiffpo.a, libdiffpo.so.X.Y.Z and diffpo.pc under PREFIX (/usr/local)"
	@echo "make uninstall    removes what make install put under PREFIX"

$(BUILD)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c $< -o $@

$(BUILD)/cuda/host_fp_probe.ok: tests/gpu/host_fp_probe.cu tests/gpu/host_fp_probe.sh $(HDRS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) $(HOST_FMA_ARCH) -c $< -o $(BUILD)/cuda/host_fp_probe.o
	@sh tests/gpu/host_fp_probe.sh $(BUILD)/cuda/host_fp_probe.o
	@touch $@

$(BUILD)/cuda/%.o: kernels/%.cu $(HDRS) | $(BUILD)/cuda/host_fp_probe.ok
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(LIBTOOLS): $(TOOLS_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(LIBSO): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(CLI): $(CLI_OBJ) $(LIBTOOLS) $(LIBA)
	$(CC) $(ALLCFLAGS) -o $@ $(CLI_OBJ) $(LIBTOOLS) $(LIBA) $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIBTOOLS) $(LIBA) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Isrc -o $@ $< $(LIBTOOLS) $(LIBA) $(LDFLAGS) $(LDLIBS)

tests-bin: $(TEST_BIN)

# GPU tests and benchmarks: tests/gpu/*.cu, host code compiled by nvcc and
# linked against the CUDA build of the library (make CUDA=1 BUILD=build/cuda).
GPU_TEST_SRC  := $(sort $(wildcard tests/gpu/test_*.cu))
GPU_BENCH_SRC := $(sort $(wildcard tests/gpu/bench_*.cu))
GPU_BIN := $(patsubst tests/gpu/%.cu,$(BUILD)/gpu/%,$(GPU_TEST_SRC) $(GPU_BENCH_SRC))
GPU_LIBS = -L$(CUDA_HOME)/lib64 -lcublasLt -lcudart -lxxhash -lpthread -lm

$(BUILD)/gpu/%: tests/gpu/%.cu $(LIBA) $(HDRS) $(wildcard tests/gpu/*.h) | $(BUILD)/cuda/host_fp_probe.ok
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -Isrc -Itests -o $@ $< $(LIBA) $(GPU_LIBS)

gpu-bin: $(GPU_BIN)

test-gpu:
	$(MAKE) CUDA=1 BUILD=build/cuda all gpu-bin
	@BUILD=build/cuda sh tests/gpu/run_gpu_tests.sh

bench-gpu:
	$(MAKE) CUDA=1 BUILD=build/cuda all gpu-bin
	@BUILD=build/cuda PYTHON=$(PYTHON) sh tests/gpu/run_bench_gpu.sh

# CPU emulation of the CUDA drivers (tests/gpu/emu/README.md): every
# kernels/*.cu and tests/gpu/test_*.cu compiled as host C++ with EMU_CXX and
# run against the CPU library; needs neither a GPU nor nvcc.  The CLI is
# built once more with DPO_WITH_CUDA (its --device code) for the emulation.
EMU_CXX ?= g++
EMU_CLI_OBJ := $(patsubst src/cli/%.c,$(BUILD)/emu/cli/%.o,$(CLI_SRC))
$(BUILD)/emu/cli/%.o: src/cli/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -DDPO_WITH_CUDA=1 -c $< -o $@

.PHONY: test-emu
test-emu: $(LIBA) $(CLI) $(EMU_CLI_OBJ)
	@if [ "$(CUDA)" = 1 ]; then echo "test-emu links the CPU library: run it without CUDA=1"; exit 1; fi
	@$(MAKE) -s -f tests/gpu/emu/emu.mk BUILD=$(BUILD) EMU_CXX=$(EMU_CXX) EMU_CLI_OBJ="$(EMU_CLI_OBJ)"
	@BUILD=$(BUILD) sh tests/gpu/emu/run_emu.sh

# The Python package's CUDA route without a GPU (tests/py_cuda_route.py):
# libdiffpo.so made of the CPU library and kernels/ built for the emulation
# (position-independent, in a folder of its own), so ctypes finds the
# dpo_cuda_* entry points of include/diffpo_cuda.h.  Only for that test.
PYEMU := $(BUILD)/pyemu
.PHONY: py-emu-lib
py-emu-lib: $(LIB_OBJ)
	@if [ "$(CUDA)" = 1 ]; then echo "py-emu-lib links the CPU library: run it without CUDA=1"; exit 1; fi
	@$(MAKE) -s -f tests/gpu/emu/emu.mk BUILD=$(PYEMU) EMU_CXX=$(EMU_CXX) EMU_CXXFLAGS="-O1 -g -fPIC" \
	    $(PYEMU)/emu/libemu_cu.a
	$(EMU_CXX) -shared -o $(PYEMU)/libdiffpo.so $(LIB_OBJ) -Wl,--whole-archive $(PYEMU)/emu/libemu_cu.a \
	    -Wl,--no-whole-archive $(LDFLAGS) $(LDLIBS)

deps:
	@sh tests/deps.sh

run: deps all
	$(CLI) run

test: deps all $(TEST_BIN)
	@BUILD=$(BUILD) PYTHON=$(PYTHON) CC=$(CC) sh tests/run_tests.sh

# The edit loop: the unit tests (tests/test_*.c, which include every golden
# vector through test_loss_vectors) and tests/test_*.sh; no CLI scripts,
# Python cross-checks, CUDA emulation, build matrix or cross builds.
check: all $(TEST_BIN)
	@BUILD=$(BUILD) CC=$(CC) SKIP_CLI=1 SKIP_PY=1 SKIP_EMU=1 SKIP_AARCH64=1 SKIP_REPRO=1 SKIP_CUDA=1 \
	  sh tests/run_tests.sh

repro: deps
	@sh tests/repro_builds.sh

cuda-check: $(BUILD)/cuda/host_fp_probe.ok
	@mkdir -p $(BUILD)/cuda
	$(NVCC) $(NVFLAGS) -x cu -c tests/cuda_compile_check.cu -o $(BUILD)/cuda/compile_check.o
	@for f in $(CU_SRC); do echo "$(NVCC) -c $$f"; $(NVCC) $(NVFLAGS) -c $$f -o $(BUILD)/cuda/$$(basename $$f .cu).o || exit 1; done
	@echo "cuda-check: OK"

# make asan: every report (ASan, LSan, UBSan) goes to a file under
# build/asan/sanlog/ with exit code 86, so that a report in a command whose
# test expects a refusal (exit 1 or 2) still fails the run; the one kind
# skipped is ASan failing to start under `ulimit -v` (cli_hardening.sh's
# probe for whether the binary can run under a memory limit).
asan:
	$(MAKE) BUILD=build/asan CC=$${ASAN_CC:-clang} OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined" all tests-bin
	@rm -rf build/asan/sanlog && mkdir -p build/asan/sanlog && \
	  ASAN_OPTIONS=log_path=$(CURDIR)/build/asan/sanlog/asan:exitcode=86 \
	  UBSAN_OPTIONS=log_path=$(CURDIR)/build/asan/sanlog/ubsan:exitcode=86 \
	  BUILD=build/asan SKIP_SLOW=1 SKIP_PY=1 SKIP_REPRO=1 SKIP_CUDA=1 \
	  EXAMPLE_CC=$${ASAN_CC:-clang} EXAMPLE_FLAGS="-fsanitize=address,undefined" sh tests/run_tests.sh; \
	  st=$$?; for f in build/asan/sanlog/*; do [ -e "$$f" ] || continue; \
	  grep -q ReserveShadowMemoryRange "$$f" && continue; \
	  echo "FAIL sanitizer report $$f:"; head -n 30 "$$f"; st=1; done; exit $$st

valgrind:
	$(MAKE) BUILD=build/vg OPT=-O1 all tests-bin
	@BUILD=build/vg VALGRIND=1 SKIP_SLOW=1 SKIP_PY=1 SKIP_REPRO=1 SKIP_CUDA=1 sh tests/run_tests.sh

fuzz:
	@FUZZ_RUNS=$${FUZZ_RUNS:-10000000} nice sh fuzz/run_fuzz.sh

bench: all $(BENCH_BIN)
	@BUILD=$(BUILD) PYTHON=$(PYTHON) sh tests/run_bench.sh

vectors:
	$(PYTHON) vectors/gen/generate.py

clean:
	rm -rf build

# ------------------------------------------------------------------ install
# make install [PREFIX=/usr/local] [DESTDIR=] puts the public headers,
# libdiffpo.a, the shared library libdiffpo.so.MAJOR.MINOR.PATCH (SONAME
# libdiffpo.so.MAJOR, with the two usual links) and the pkg-config file
# diffpo.pc in place; the version is the one include/diffpo.h declares.
# tests/cli_install.sh builds examples/align_tailorpo.c against the
# installed copy with `pkg-config --cflags --libs diffpo`.
PREFIX     ?= /usr/local
DESTDIR    ?=
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PCDIR      ?= $(LIBDIR)/pkgconfig
hdr_version = $(shell sed -n 's/^\#define DPO_VERSION_$(1) \([0-9][0-9]*\).*/\1/p' include/diffpo.h)
VERSION := $(call hdr_version,MAJOR).$(call hdr_version,MINOR).$(call hdr_version,PATCH)
SOMAJOR := $(call hdr_version,MAJOR)
SONAME   = libdiffpo.so.$(SOMAJOR)

.PHONY: install uninstall
install: $(LIBA) $(LIBSO)
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PCDIR)
	install -m 644 include/*.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/libdiffpo.a
	install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)/libdiffpo.so.$(VERSION)
	ln -sf libdiffpo.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libdiffpo.so
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: diffpo' \
	  'Description: bit-reproducible DDIM rollouts and DPO-style diffusion alignment losses' \
	  'Version: $(VERSION)' \
	  'Libs: -L$${libdir} -ldiffpo' \
	  'Libs.private: $(LDLIBS)' \
	  'Cflags: -I$${includedir}' >$(DESTDIR)$(PCDIR)/diffpo.pc
	chmod 644 $(DESTDIR)$(PCDIR)/diffpo.pc

uninstall:
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/,$(notdir $(wildcard include/*.h)))
	rm -f $(DESTDIR)$(LIBDIR)/libdiffpo.a $(DESTDIR)$(LIBDIR)/libdiffpo.so \
	      $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libdiffpo.so.$(VERSION) $(DESTDIR)$(PCDIR)/diffpo.pc

# tests that include a CLI source directly
$(BUILD)/tests/test_outfile: src/cli/outfile.c
