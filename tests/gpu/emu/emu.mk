# CPU emulation of the CUDA drivers (tests/gpu/emu/README.md): every
# kernels/*.cu, tests/gpu/test_*.cu and tests/gpu/bench_gpu.cu compiled as
# host C++ against the stand-in runtime in this directory and the CPU
# library $(BUILD)/libdiffpo.a.
# Used by `make test-emu`; run from the repository root.
BUILD   ?= build
EMU_CXX ?= g++
EMU     := $(BUILD)/emu
EMU_DIR := tests/gpu/emu

# The project's floating-point rules (no contraction, no fast-math, SSE2 on
# x86-64).  -fno-strict-aliasing: the kernels' float4 accesses alias float.
EMU_FP := -ffp-contract=off -fno-fast-math
ifeq ($(shell uname -m),x86_64)
EMU_FP += -msse2 -mfpmath=sse
endif
EMU_CXXFLAGS ?= -O1 -g
EMU_ALLFLAGS := -std=c++20 $(EMU_FP) -fno-strict-aliasing -Wall -Wextra -Werror -Wno-unused-function -Wno-comment \
                -Wno-unused-parameter -I$(EMU_DIR) -Iinclude -Isrc -Itests -Ikernels -MMD -MP $(EMU_CXXFLAGS)

EMU_KSRC := $(sort $(wildcard kernels/*.cu))
EMU_KOBJ := $(patsubst kernels/%.cu,$(EMU)/k/%.o,$(EMU_KSRC))
EMU_ROBJ := $(EMU)/rt/emu.o $(EMU)/rt/cublaslt.o
EMU_TSRC := $(sort $(wildcard tests/gpu/test_*.cu))
EMU_TBIN := $(patsubst tests/gpu/%.cu,$(EMU)/%,$(EMU_TSRC))
EMU_LIBS := -lxxhash -lpthread -lm

# The CLI's objects compiled with DPO_WITH_CUDA (by the main Makefile's
# test-emu): diffpo align --device on the emulation.
EMU_CLI_OBJ ?=
EMU_CLI := $(if $(EMU_CLI_OBJ),$(EMU)/diffpo)

all: $(EMU)/emu_selftest $(EMU_TBIN) $(EMU)/bench_gpu $(EMU_CLI)

# The GPU benchmark harness (run_emu.sh runs it at DPO_BENCH_QUICK=1 sizes
# through tests/gpu/run_bench_gpu.sh; its times mean nothing here).
$(EMU)/bench_gpu: $(EMU)/t/bench_gpu.o $(EMU)/libemu_cu.a $(BUILD)/libdiffpo.a
	$(EMU_CXX) -o $@ $< $(EMU)/libemu_cu.a $(BUILD)/libdiffpo.a $(EMU_LIBS) -ldl

$(EMU)/diffpo: $(EMU_CLI_OBJ) $(EMU)/libemu_cu.a $(BUILD)/libdiffpo_tools.a $(BUILD)/libdiffpo.a
	$(EMU_CXX) -o $@ $(EMU_CLI_OBJ) $(EMU)/libemu_cu.a $(BUILD)/libdiffpo_tools.a $(BUILD)/libdiffpo.a $(EMU_LIBS)

$(EMU)/emu_selftest: $(EMU)/rt/selftest.o $(EMU)/libemu_cu.a
	$(EMU_CXX) -o $@ $< $(EMU)/libemu_cu.a $(EMU_LIBS)

$(EMU)/k/%.o: kernels/%.cu
	@mkdir -p $(dir $@)
	$(EMU_CXX) $(EMU_ALLFLAGS) -x c++ -c $< -o $@

$(EMU)/rt/%.o: $(EMU_DIR)/%.cpp
	@mkdir -p $(dir $@)
	$(EMU_CXX) $(EMU_ALLFLAGS) -c $< -o $@

$(EMU)/t/%.o: tests/gpu/%.cu
	@mkdir -p $(dir $@)
	$(EMU_CXX) $(EMU_ALLFLAGS) -x c++ -c $< -o $@

$(EMU)/libemu_cu.a: $(EMU_KOBJ) $(EMU_ROBJ)
	rm -f $@
	ar rcs $@ $^

$(EMU)/test_%: $(EMU)/t/test_%.o $(EMU)/libemu_cu.a $(BUILD)/libdiffpo.a
	$(EMU_CXX) -o $@ $< $(EMU)/libemu_cu.a $(BUILD)/libdiffpo.a $(EMU_LIBS)

-include $(wildcard $(EMU)/k/*.d $(EMU)/rt/*.d $(EMU)/t/*.d)
.SECONDARY:
