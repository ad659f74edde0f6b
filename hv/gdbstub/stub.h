/* The GDB stub (gdb= on the command line): stock gdb debugs the hypervisor
 * and its guest, every CPU a thread, over the serial line (the framed GDB
 * channel through hvlog --gdb-port, or gdb=raw: plain RSP on the line). */
#ifndef HV_GDBSTUB_STUB_H
#define HV_GDBSTUB_STUB_H

/* Registers the stub's channel, hooks and exits; nothing if gdb=off. On
 * the BSP, once the line is up and before the VMX users start. */
void gdbstub_init(void);
/* gdb=wait: stops here (in hv_main) until gdb continues. */
void gdbstub_boot_wait(void);
/* A deliberate stop into the debugger (an INT3 the stub knows). */
void gdb_breakpoint(void);

#endif
