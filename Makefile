# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# reflex: `make` builds into build/, `make test` runs every suite, `make bench`
# measures. V=1 shows the commands.

OUTPUT ?= build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

ifeq ($(V),1)
	Q =
	msg =
else
	Q = @
	msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# SAN=1 builds the user-space code with ASan+UBSan into build/asan.
ifeq ($(SAN),1)
	OUTPUT := build/asan
	SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g -O2 -Wall -Wextra -Werror \
	-Wmissing-field-initializers -Werror=undef -Wformat=2 -Wshadow
CFLAGS ?= $(CFLAGS_BASE)
ALL_CFLAGS := $(CFLAGS) $(SANFLAGS) -Iinclude -Iuser -I$(OUTPUT) -MMD -MP
LDLIBS := -lbpf -lelf -lz -ljansson -lcurl -lyaml -lmicrohttpd -pthread -lm
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Iinclude -Ibpf -I$(OUTPUT)

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

# Every user/*.c except the programs' mains is a module linked into each binary.
MAINS := reflexd reflex reflex-controller
MODULE_SRCS := $(filter-out $(MAINS:%=user/%.c),$(wildcard user/*.c))
MODULE_OBJS := $(patsubst user/%.c,$(OUTPUT)/obj/%.o,$(MODULE_SRCS))
BINS := $(MAINS:%=$(OUTPUT)/%)

# Unit tests: tests/unit/test_<name>.c, discovered, linked with the modules.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
# Test helpers run inside containers: static, no libc where it matters.
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(patsubst tests/helpers/%.c,$(OUTPUT)/helpers/%,$(HELPER_SRCS))
# Benchmark helpers that run inside containers: static, with libc.
TOOL_SRCS := $(wildcard tools/*.c)
TOOL_BINS := $(patsubst tools/%.c,$(OUTPUT)/tools/%,$(TOOL_SRCS))

.PHONY: all deps test test-unit test-unit-asan test-valgrind test-integration \
	bench bench-quick test-kernels fuzz fuzz-build demo clean
.DELETE_ON_ERROR:
.SECONDARY:

all: deps $(BINS) $(UNIT_BINS) $(HELPER_BINS) $(TOOL_BINS)

deps:
	$(Q)tools/install-deps

$(OUTPUT) $(OUTPUT)/obj $(OUTPUT)/tests $(OUTPUT)/helpers $(OUTPUT)/tools:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(wildcard include/reflex/*.h bpf/*.h) $(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(BPFTOOL) gen object $@.linked $@ && mv $@.linked $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/obj/%.o: user/%.c $(SKELS) | $(OUTPUT)/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BINS): $(OUTPUT)/%: $(OUTPUT)/obj/%.o $(MODULE_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(MODULE_OBJS) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-unused-parameter $^ $(LDLIBS) -lcmocka -o $@

# The dropped binary has no libc: its very first instructions write the marker.
$(OUTPUT)/helpers/dropper: tests/helpers/dropper.c | $(OUTPUT)/helpers
	$(call msg,HELPER,$@)
	$(Q)$(CC) -O2 -static -nostdlib -fno-stack-protector -fno-builtin -Wall -Werror $< -o $@

$(OUTPUT)/helpers/%: tests/helpers/%.c | $(OUTPUT)/helpers
	$(call msg,HELPER,$@)
	$(Q)$(CC) $(CFLAGS_BASE) -static $< -o $@

$(OUTPUT)/tools/%: tools/%.c | $(OUTPUT)/tools
	$(call msg,TOOL,$@)
	$(Q)$(CC) $(CFLAGS_BASE) -static $< -o $@

test: all
	$(Q)tests/run-all

test-unit: all
	$(Q)tests/run-unit $(OUTPUT)

test-integration: all
	$(Q)tests/integration/run

# libFuzzer targets (clang): fuzz/fuzz_<parser>.c, linked with the modules
# built with ASan+UBSan and fuzzer coverage into build/fuzz/.
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS := $(patsubst user/%.c,build/fuzz/obj/%.o,$(MODULE_SRCS))
FUZZ_CFLAGS := $(CFLAGS_BASE) -Wno-unused-parameter -Wno-missing-field-initializers -fno-omit-frame-pointer -Iinclude -Iuser -I$(OUTPUT) \
	-fsanitize=address,undefined -fno-sanitize-recover=all

build/fuzz/obj/%.o: user/%.c $(SKELS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

build/fuzz/%: fuzz/%.c $(FUZZ_OBJS)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ $(LDLIBS) -o $@

fuzz-build: deps $(FUZZ_BINS)

# Every target for FUZZ_SECONDS (default 60); a crash fails.
fuzz: fuzz-build
	$(Q)fuzz/run

bench: all
	$(Q)tools/bench

# The kernel-facing integration tests on Debian 12's 6.1 kernel under QEMU
# (TCG), booted with and without BPF LSM. KERNEL_VM_ARGS=--quick: CI's subset.
test-kernels: all
	$(Q)tools/kernel-vm $(KERNEL_VM_ARGS)

# The short profile CI runs after the tests: a table, never a verdict on noise.
bench-quick: all
	$(Q)timeout 1200 tools/bench --quick

demo: all
	$(Q)tools/demo

clean:
	$(Q)rm -rf build

-include $(wildcard $(OUTPUT)/obj/*.d $(OUTPUT)/tests/*.d)
