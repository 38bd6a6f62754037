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
ALL_CFLAGS := $(CFLAGS) $(SANFLAGS) -Iinclude -MMD -MP
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Iinclude -Ibpf -I$(OUTPUT)

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

# user/lib/: the modules two or more programs use, one static library. Its
# objects see -Iuser/lib only, so the library cannot include a program's code.
# user/<dir>/: one program, its main (<binary>.c) and the modules only it uses;
# its objects see -Iuser/lib -Iuser/<dir>. Only reflexd sees the skeletons.
INC_lib := -Iuser/lib
INC_reflexd := -Iuser/lib -Iuser/reflexd -I$(OUTPUT)
INC_controller := -Iuser/lib -Iuser/controller
INC_reflex := -Iuser/lib -Iuser/reflex
user_objs = $(patsubst user/%.c,$(1)/%.o,$(2))

LIB_SRCS := $(wildcard user/lib/*.c)
# Falco's pool lists compiled in (pools.c: pool_lists_builtin).
LIB_GEN := $(OUTPUT)/gen/pool_lists_builtin.c
LIB_OBJS := $(call user_objs,$(OUTPUT)/obj,$(LIB_SRCS)) $(OUTPUT)/obj/gen/pool_lists_builtin.o
LIB := $(OUTPUT)/libreflex.a

# Per program: the folder, the non-main modules, and what it links. Only
# reflexd links libbpf/libelf and the skeletons; the CLI needs neither
# libmicrohttpd nor zlib. -pthread and -lm as the library's objects need.
reflexd_SRCS := $(filter-out user/reflexd/reflexd.c,$(wildcard user/reflexd/*.c))
controller_SRCS := $(filter-out user/controller/reflex-controller.c,$(wildcard user/controller/*.c))
reflex_SRCS := $(filter-out user/reflex/reflex.c,$(wildcard user/reflex/*.c user/reflex/triage/*.c))
reflexd_OBJS := $(call user_objs,$(OUTPUT)/obj,$(reflexd_SRCS))
controller_OBJS := $(call user_objs,$(OUTPUT)/obj,$(controller_SRCS))
reflex_OBJS := $(call user_objs,$(OUTPUT)/obj,$(reflex_SRCS))
reflexd_LDLIBS := -lbpf -lelf -lz -lcrypto -ljansson -lcurl -lyaml -lmicrohttpd -pthread -lm
controller_LDLIBS := -lz -lcrypto -ljansson -lcurl -lyaml -lmicrohttpd -pthread -lm
reflex_LDLIBS := -lcrypto -ljansson -lcurl -lyaml -pthread -lm
# Unit tests and fuzz targets link whatever they test: all of it.
LDLIBS := $(reflexd_LDLIBS)

BINS := $(OUTPUT)/reflexd $(OUTPUT)/reflex-controller $(OUTPUT)/reflex

# The objects that include a *.skel.h (kernel.c): the only ones a BPF edit rebuilds.
USER_SRCS := $(wildcard user/*/*.c)
SKEL_SRCS := $(shell grep -l '\.skel\.h"' $(USER_SRCS))

# Unit tests: tests/unit/<dir>/test_<name>.c mirrors user/<dir>/, discovered,
# built flat into $(OUTPUT)/tests/test_<name>. A test links the library, plus
# its program's modules for tests/unit/<program>/; see the rules below.
UNIT_DIRS := lib reflexd controller reflex
UNIT_SRCS := $(wildcard $(UNIT_DIRS:%=tests/unit/%/test_*.c))
UNIT_BINS := $(patsubst %.c,$(OUTPUT)/tests/%,$(notdir $(UNIT_SRCS)))
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

$(OUTPUT) $(OUTPUT)/tests $(OUTPUT)/helpers $(OUTPUT)/tools:
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

# user/<dir>/<name>.c -> $(OUTPUT)/obj/<dir>/<name>.o, with <dir>'s include path.
$(OUTPUT)/obj/%.o: user/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(INC_$(firstword $(subst /, ,$*))) -c $< -o $@

$(call user_objs,$(OUTPUT)/obj,$(SKEL_SRCS)): $(SKELS)

# rules/miner_pools.txt as a C string: each line escaped, newline kept.
$(LIB_GEN): rules/miner_pools.txt
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q){ echo '/* Generated from rules/miner_pools.txt by the Makefile: do not edit. */'; \
	  echo '#include <stddef.h>'; echo 'const char pool_lists_builtin_text[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; echo 'const size_t pool_lists_builtin_len = sizeof(pool_lists_builtin_text) - 1;'; } >$@.tmp && mv $@.tmp $@

$(OUTPUT)/obj/gen/pool_lists_builtin.o: $(LIB_GEN)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# Objects first, then the library, then the program's own LDLIBS.
link = $(CC) $(CFLAGS) $(SANFLAGS) $(filter %.o,$^) $(filter %.a,$^) $(1) -o $@

$(OUTPUT)/reflexd: $(OUTPUT)/obj/reflexd/reflexd.o $(reflexd_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(call link,$(reflexd_LDLIBS))

$(OUTPUT)/reflex-controller: $(OUTPUT)/obj/controller/reflex-controller.o $(controller_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(call link,$(controller_LDLIBS))

$(OUTPUT)/reflex: $(OUTPUT)/obj/reflex/reflex.o $(reflex_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(call link,$(reflex_LDLIBS))

# A unit test: its source, its program's modules (none for lib/), the library.
# UNIT_INC and extra prerequisites below add what a test reaches across programs.
unit_test = $(CC) $(ALL_CFLAGS) -Wno-unused-parameter -Itests/unit -Iuser/lib $(1) $(UNIT_INC) \
	$(filter %.c,$^) $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS) -lcmocka -o $@

$(OUTPUT)/tests/%: tests/unit/lib/%.c $(LIB) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(call unit_test,)

$(OUTPUT)/tests/%: tests/unit/reflexd/%.c $(reflexd_OBJS) $(LIB) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(call unit_test,$(INC_reflexd))

$(OUTPUT)/tests/%: tests/unit/controller/%.c $(controller_OBJS) $(LIB) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(call unit_test,$(INC_controller))

$(OUTPUT)/tests/%: tests/unit/reflex/%.c $(reflex_OBJS) $(LIB) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(call unit_test,$(INC_reflex))

# Library tests that drive a program's caller of the module under test.
$(OUTPUT)/tests/test_deliver: UNIT_INC := -Iuser/controller -Iuser/reflexd
$(OUTPUT)/tests/test_deliver: $(controller_OBJS) $(OUTPUT)/obj/reflexd/reporter.o
$(OUTPUT)/tests/test_httpd: UNIT_INC := -Iuser/reflex
$(OUTPUT)/tests/test_httpd: $(OUTPUT)/obj/reflex/status_client.o
$(OUTPUT)/tests/test_ratelimit: UNIT_INC := -Iuser/reflexd
$(OUTPUT)/tests/test_ratelimit: $(OUTPUT)/obj/reflexd/correlate.o

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

# libFuzzer targets (clang): fuzz/fuzz_<parser>.c, linked with every non-main
# object (library and programs) built with ASan+UBSan and fuzzer coverage into
# build/fuzz/obj/<dir>/, each with <dir>'s include path as above.
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS := $(call user_objs,build/fuzz/obj,$(LIB_SRCS) $(reflexd_SRCS) $(controller_SRCS) $(reflex_SRCS)) \
	build/fuzz/obj/gen/pool_lists_builtin.o
FUZZ_CFLAGS := $(CFLAGS_BASE) -Wno-unused-parameter -Wno-missing-field-initializers -fno-omit-frame-pointer -Iinclude \
	-fsanitize=address,undefined -fno-sanitize-recover=all -MMD -MP

build/fuzz/obj/%.o: user/%.c
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(INC_$(firstword $(subst /, ,$*))) -fsanitize=fuzzer-no-link -c $< -o $@

$(call user_objs,build/fuzz/obj,$(SKEL_SRCS)): $(SKELS)

build/fuzz/obj/gen/pool_lists_builtin.o: build/gen/pool_lists_builtin.c
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

build/fuzz/%: fuzz/%.c $(FUZZ_OBJS)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(INC_lib) -Iuser/reflexd -Iuser/controller -Iuser/reflex -fsanitize=fuzzer $(filter %.c %.o,$^) $(LDLIBS) -o $@

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

-include $(wildcard $(OUTPUT)/obj/*/*.d $(OUTPUT)/obj/*/*/*.d $(OUTPUT)/tests/*.d build/fuzz/obj/*/*.d \
	build/fuzz/obj/*/*/*.d build/fuzz/*.d)
