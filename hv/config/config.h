/* Options from the GRUB command line, e.g.
 *   multiboot2 /boot/hv.elf serial=115200,8n1,0x3f8 serial_mode=plain
 * Every option and its default is listed in cmdline.c's table. */
#ifndef HV_CONFIG_H
#define HV_CONFIG_H
#include <stdint.h>
#include <stdbool.h>

enum serial_mode { SERIAL_FRAMED, SERIAL_PLAIN };
enum lapic_step_method { LAPIC_STEP_AUTO, LAPIC_STEP_MTF, LAPIC_STEP_TF };
/* gdb=: the GDB stub (hv/gdbstub/). off: not started; on: answers on the
 * GDB channel, fatal stops wait for gdb; wait: on, and stops early in
 * hv_main for gdb; raw: on, the line is plain RSP (no frames); raw-wait:
 * both. */
enum gdb_mode { GDB_OFF, GDB_ON, GDB_WAIT, GDB_RAW, GDB_RAW_WAIT };
#define GDB_IS_RAW(m)  ((m) == GDB_RAW || (m) == GDB_RAW_WAIT)
#define GDB_IS_WAIT(m) ((m) == GDB_WAIT || (m) == GDB_RAW_WAIT)
enum x2apic_hint { X2APIC_HINT_NONE, X2APIC_HINT_KVM };
enum selftest_kind { SELFTEST_NONE, SELFTEST_UD, SELFTEST_PF, SELFTEST_GP,
                     SELFTEST_NMI, SELFTEST_DF, SELFTEST_STORM, SELFTEST_STORM_GUEST,
                     SELFTEST_QUIESCE, SELFTEST_QUIESCE_STUCK, SELFTEST_CRYPTO,
                     SELFTEST_COUNT };

struct hv_config {
    uint32_t baud;
    uint8_t data_bits, stop_bits;
    char parity;                /* 'n', 'e', 'o' */
    uint16_t uart_port;
    int serial_mode;            /* enum serial_mode */
    int selftest;               /* enum selftest_kind */
    uint64_t heap_bytes;        /* hypervisor page pool */
    uint8_t boot_drive;         /* DL for the guest's boot sector */
    bool no_guest;              /* guest=none: stay in the hypervisor */
    bool guest_serial_passthrough;  /* the guest drives the real COM1 */
    char vmx_corrupt[40];       /* VMCS field to break (entry-failure tests) */
    uint32_t quiesce_report_ms; /* a CPU silent this long is named */
    int lapic_step;             /* enum lapic_step_method: how xAPIC accesses are stepped */
    bool lapic_trap;            /* trap the guest's xAPIC page (INIT/SIPI) */
    bool lapic_emulate;         /* emulate plain MOV xAPIC accesses (else step all) */
    int x2apic_hint;            /* enum x2apic_hint (hv/vapic/x2apic_hint.c) */
    bool triple_fault_park;     /* on_triple_fault=park: keep the CPU for the debugger */
    int gdb;                    /* enum gdb_mode */
    bool trace_drain_block;     /* trace_drain=block: every exit waits for the line */
};

extern struct hv_config hv_config;

/* Parses the command line into hv_config; bad options are reported and
 * ignored, never fatal. */
void cmdline_parse(const char *cmdline);

#endif
