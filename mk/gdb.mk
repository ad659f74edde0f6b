# make gdb: stock gdb on the hypervisor of a running `make run` (gdb/README.md).
#
#   terminal 1:  make run GDB_PORT=1234         # hvrun bridges the GDB channel
#   terminal 2:  make gdb [GDB_PORT=1234]       # gdb -x gdb/hv.gdb, attached
#
# GDB_PORT on `make run` adds gdb=on to HV_CMDLINE unless it names a gdb=
# mode already (gdb=wait stops early in hv_main until gdb continues), and
# passes --gdb-port to hvrun. gdb=raw (plain RSP, no frames) is for a line
# gdb owns alone: make gdb GDB_RAW=/dev/ttyS0 (or HOST:PORT of a serial socket).
# make gdb never rebuilds hv.elf: its symbols must be those of the running image.
GDB ?= gdb

ifneq ($(GDB_PORT),)
ifeq ($(findstring gdb=,$(HV_CMDLINE)),)
override HV_CMDLINE := $(HV_CMDLINE) gdb=on
endif
HVRUN_GDB := --gdb-port $(GDB_PORT)
endif

.PHONY: gdb
gdb:
	@test -f $(BUILD)/hv.elf || $(MAKE) $(BUILD)/hv.elf
	$(GDB) -q -x gdb/hv.gdb \
		$(if $(GDB_RAW),-ex 'hv-connect-raw $(GDB_RAW)',-ex 'hv-connect-framed $(or $(GDB_PORT),1234)')
