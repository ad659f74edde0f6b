# libhvtrace.so: hvlog's fast path (host-tools/hvtools/native.py loads it
# with ctypes). The portable cores of hv/trace/ (the very files the
# hypervisor encodes with, PORTABLE_SRCS) plus the host-only glue in
# host-tools/libhvtrace/. Without it hvlog decodes in Python and says so.
HVTRACE_LIB  := $(BUILD)/host/libhvtrace.so
HVTRACE_SRCS := $(sort $(wildcard host-tools/libhvtrace/*.c))

host: $(HVTRACE_LIB)

$(HVTRACE_LIB): $(PORTABLE_SRCS) $(HVTRACE_SRCS) $(wildcard host-tools/libhvtrace/*.h) $(HOST_DEPS)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -O2 -fPIC -shared -Ihost-tools/libhvtrace \
		-o $@ $(HVTRACE_SRCS) $(PORTABLE_SRCS)
