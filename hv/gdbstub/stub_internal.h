/* The hypervisor's side of the GDB stub: shared by its files only. The
 * portable protocol is rsp.h; this is the target it talks to. */
#ifndef HV_GDBSTUB_STUB_INTERNAL_H
#define HV_GDBSTUB_STUB_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <percpu.h>
#include "cpu/idt.h"
#include "gdbstub/rsp.h"
#include "vmx/guest_mem.h"

/* A stopped CPU's own state, captured by that CPU when it stops: no other
 * CPU can read its control registers or VMREAD its VMCS. */
struct hv_sysregs {
    uint64_t cr0, cr2, cr3, cr4, cr8, efer, fs_base, gs_base;
    uint64_t dr[8];
};

struct guest_snapshot {
    bool valid;             /* this CPU runs a guest: its VMCS holds it */
    bool dirty;             /* gdb wrote: goes back to the VMCS on release */
    uint64_t rip, rsp, rflags, cr0, cr3, cr4, efer, fs_base, gs_base, dr7;
    uint16_t sel[6];        /* cs ss ds es fs gs, gdb's order */
    struct guest_paging paging;
};

struct gdb_cpu {
    volatile uint64_t stop_asked;       /* the stop (generation) it is asked to park for */
    volatile uint32_t ipi_in_flight;    /* a stop NMI sent and not yet taken */
    volatile uint64_t parked;           /* the stop it is parked for (or reports), 0: none */
    uint32_t depth;                     /* stops nested on this CPU (an NMI inside a stop) */
    struct regs *frame;                 /* its registers while stopped */
    struct regs synth;                  /* the frame of a stop outside a trap */
    bool trap_frame;                    /* frame came from an exception: TF can step it */
    bool stepping;                      /* released with TF: its next BS #DB is gdb's */
    volatile bool step_go;              /* released to step one instruction */
    struct hv_sysregs sys;
    struct guest_snapshot guest;
    uint64_t stop_tsc;                  /* when it parked (break-in latency) */
    /* Work the command loop asks this parked CPU to do (VMREADs). */
    void (*volatile call)(void *arg);
    void *call_arg;
    volatile bool call_done;
    /* The guest's DR0-DR3 while the hypervisor's are loaded (dr.c). */
    bool guest_dr_saved;
    bool guest_dr_live;         /* the guest's DR0-DR3 loaded for the coming entry */
    uint64_t guest_dr[4];
};
extern struct gdb_cpu gdb_cpus[MAX_CPUS];

struct gdb_state {
    struct rsp rsp;
    volatile int reporter;              /* the CPU running the command loop, -1 */
    volatile uint64_t stop_gen;         /* the latest stop's generation (1, 2, ...) */
    volatile uint64_t released_gen;     /* stops up to this one are over */
    volatile int step_cpu;              /* a parked CPU released to step, -1 */
    volatile bool resume_now;           /* the loop ends: c/s/D/k */
    volatile bool break_asked;          /* 0x03 from gdb while running */
    bool view_guest;                    /* `monitor guest`: registers/memory are the guest's */
    bool raw;                           /* gdb=raw: the line is plain RSP */
    uint64_t break_tsc, all_parked_tsc; /* for the break-in latency */
};
extern struct gdb_state gdb;

/* A frame for a CPU that stops outside an exception: where this inline
 * copy sits in its caller, with the caller's stack, so gdb unwinds from
 * there (the callee-saved registers are the caller's too). */
static inline __attribute__((always_inline)) void gdb_capture_here(struct regs *r)
{
    __asm__ volatile("lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %c[rip](%0)\n\t"
                     "mov %%rsp, %c[rsp](%0)\n\t"
                     "mov %%rbp, %c[rbp](%0)\n\t"
                     "mov %%rbx, %c[rbx](%0)\n\t"
                     "mov %%r12, %c[r12](%0)\n\t"
                     "mov %%r13, %c[r13](%0)\n\t"
                     "mov %%r14, %c[r14](%0)\n\t"
                     "mov %%r15, %c[r15](%0)\n\t"
                     "1:"
                     :: "r"(r), [rip] "i"(__builtin_offsetof(struct regs, rip)),
                        [rsp] "i"(__builtin_offsetof(struct regs, rsp)),
                        [rbp] "i"(__builtin_offsetof(struct regs, rbp)),
                        [rbx] "i"(__builtin_offsetof(struct regs, rbx)),
                        [r12] "i"(__builtin_offsetof(struct regs, r12)),
                        [r13] "i"(__builtin_offsetof(struct regs, r13)),
                        [r14] "i"(__builtin_offsetof(struct regs, r14)),
                        [r15] "i"(__builtin_offsetof(struct regs, r15))
                     : "rax", "memory");
    uint16_t cs, ss;
    __asm__ volatile("mov %%cs, %0; mov %%ss, %1" : "=r"(cs), "=r"(ss));
    r->cs = cs;
    r->ss = ss;
    r->rflags = 2;
}

/* stop.c: the all-stop protocol. frame NULL: a stop outside a trap (the
 * caller captured c->synth). Returns when gdb lets this CPU go. */
void gdb_stop(struct regs *frame, const struct rsp_stop *why);
bool gdb_cpu_is_stopped(uint32_t cpu);
/* A stop another CPU reports, if one is asked of this CPU and it is not
 * parked for it already (its NMI, a spin that polls): parks until it is
 * over. frame NULL: c->synth was captured by the caller. */
void gdb_stop_if_asked(struct gdb_cpu *c, struct regs *frame);
bool gdb_stop_asked_now(const struct gdb_cpu *c);
int gdb_resume(void *ctx, const struct rsp_resume *r);
void gdb_detach(void *ctx);
/* Runs fn on a parked CPU (for what only it can read: its VMCS). */
bool gdb_run_on(uint32_t cpu, void (*fn)(void *), void *arg);

/* capture.c: what a stopping CPU records of itself, and writes back. */
void gdb_capture(struct gdb_cpu *c);
void gdb_writeback(struct gdb_cpu *c);

/* regs.c */
int gdb_read_reg(void *ctx, int tid, enum rsp_reg reg, uint8_t *val);
int gdb_write_reg(void *ctx, int tid, enum rsp_reg reg, const uint8_t *val);

/* memory.c */
size_t gdb_read_mem(void *ctx, int tid, uint64_t addr, uint8_t *buf, size_t len);
int gdb_write_mem(void *ctx, int tid, uint64_t addr, const uint8_t *buf, size_t len);
/* Hypervisor memory, checked: false if any byte is not mapped RAM. */
bool gdb_hv_copy(void *dst, uint64_t addr, size_t len, bool write, const void *src);

/* breakpoints.c and dr.c */
int gdb_set_breakpoint(void *ctx, bool insert, enum rsp_bp_type type, uint64_t addr, uint32_t kind);
bool gdb_is_sw_breakpoint(uint64_t addr);
void gdb_breakpoints_clear(void);
/* dr.c: the hypervisor's debug registers. */
int gdb_dr_set(bool insert, enum rsp_bp_type type, uint64_t addr, uint32_t len);
void gdb_dr_clear(void);
void gdb_dr_load(void);
/* #DB: which of ours fired (DR6), consumed from DR6; *stale: one that
 * gdb has removed since fired (nothing to report). */
bool gdb_dr_hit(struct rsp_stop *why, bool *exec_bp, bool *stale);
void gdb_dr_init(void);

/* monitor.c, trace_view.c */
int gdb_monitor(void *ctx, struct rsp *r, const char *cmd);
void gdb_monitor_trace(struct rsp *r, uint32_t cpu, const char *arg);
bool gdb_thread_alive(void *ctx, int tid);
void gdb_thread_extra(void *ctx, int tid, char *buf, size_t cap);
void gdb_interrupt(void *ctx);

/* transport.c */
void gdb_transport_init(void);
void gdb_service_line(void);        /* one round of the stopped machine's line */
void gdb_put(void *ctx, const uint8_t *bytes, size_t len);
/* Raw: before a stop reply, end a packet a parked CPU left half-sent. */
void gdb_raw_resync(void);

#endif
