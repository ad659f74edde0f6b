# libhvtrace.so: hvlog's fast path (host-tools/hvtools/native.py loads it
# with ctypes). The portable trace cores of hv/trace/ (the very files the
# hypervisor encodes with: PORTABLE_SRCS) plus the host-only glue and
# renderer in host-tools/libhvtrace/. Without it hvlog decodes in Python
# and says so. Not -Ihv/include: its string.h is the hypervisor's.
HVTRACE_LIB    := $(BUILD)/host/libhvtrace.so
HVTRACE_SRCS   := $(sort $(wildcard host-tools/libhvtrace/*.c))
HVTRACE_CORE   := $(filter hv/trace/%,$(PORTABLE_SRCS))
HVTRACE_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Ihv -DHOSTED -fPIC -shared

host: $(HVTRACE_LIB)

$(HVTRACE_LIB): $(HVTRACE_CORE) $(HVTRACE_SRCS) $(wildcard host-tools/libhvtrace/*.h) $(HOST_DEPS)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HVTRACE_CFLAGS) -o $@ $(HVTRACE_SRCS) $(HVTRACE_CORE) -lm

# The same library under ASan + UBSan, for tests/host/test_render_interop.py
# (it reruns the interop tests against it in a subprocess).
HVTRACE_ASAN := $(BUILD)/host/libhvtrace-asan.so
host: $(HVTRACE_ASAN)

$(HVTRACE_ASAN): $(HVTRACE_CORE) $(HVTRACE_SRCS) $(wildcard host-tools/libhvtrace/*.h) $(HOST_DEPS)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HVTRACE_CFLAGS) -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
		-o $@ $(HVTRACE_SRCS) $(HVTRACE_CORE) -lm
