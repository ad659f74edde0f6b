/* Where stops come from: the stop IPI (root-mode NMIs and NMI exits), the
 * debugger's own traps (#BP on an INT3 it planted, #DB from its debug
 * registers or a step), a break-in (0x03 from gdb, seen at the next exit
 * or idle pass: the preemption timer makes one every 50 ms even when the
 * guest makes none), a fatal error, and gdb=wait. Registration too. */
#include "config/config.h"
#include "console/console.h"
#include "cpu/exception.h"
#include "smp/work.h"
#include <x86.h>
#include "gdbstub/debugregs.h"
#include "gdbstub/stub.h"
#include "gdbstub/stub_internal.h"
#include "nmi/nmi.h"
#include "vmx/exit_table.h"
#include "vmx/vcpu.h"

#define DR6_BS  (1ull << 14)
#define RFLAGS_RF (1ull << 16)
#define SIGINT  2
#define SIGILL  4
#define SIGTRAP 5
#define SIGABRT 6
#define SIGFPE  8
#define SIGSEGV 11

static bool enabled;

/* Root-mode NMIs, asked first by the CPU layer. A quiesce NMI that came
 * together with ours is merged into it by the CPU (one NMI latch), so our
 * NMI answers a quiesce that was asked before the handler looked (else
 * that quiesce would wait for ever). Known limit (spin model,
 * test_stop_known_limit_spurious_guest_nmi): if that quiesce was asked
 * after our NMI arrived but before the handler looked, its own NMI still
 * comes, answers nothing, and reaches the guest as a spurious NMI. The
 * window is a few instructions on hardware; NMIs carry no sender, so no
 * count of them can tell these apart. */
static bool on_nmi(struct regs *r)
{
    uint32_t me = this_cpu_index();
    struct gdb_cpu *c = &gdb_cpus[me];
    bool ours = __atomic_exchange_n(&c->ipi_in_flight, 0, __ATOMIC_ACQ_REL);
    bool quiesce_before = vcpus[me].vmcs_phys && quiesce_requested();
    gdb_stop_if_asked(c, r);
    if (ours && quiesce_before)
        quiesce_answer(&vcpus[me]);
    return ours;
}

static void break_in_poll(void);

/* NMI exits (nmi: true; nmi_arrived answers a quiesce itself) and the
 * spins of the quiesce protocol (nmi: false). The spins answer a break-in
 * too: a quiesce that never ends holds every CPU in one of its waits, so
 * no exit or idle pass would ever come to answer it. */
static bool on_nmi_layer(struct vcpu *v, bool nmi)
{
    struct gdb_cpu *c = &gdb_cpus[v->index];
    bool ours = nmi && __atomic_exchange_n(&c->ipi_in_flight, 0, __ATOMIC_ACQ_REL);
    if (gdb_stop_asked_now(c)) {
        gdb_capture_here(&c->synth);
        gdb_stop_if_asked(c, NULL);
    }
    if (!nmi)
        break_in_poll();
    return ours;
}

/* gdb_breakpoint()'s own INT3: a deliberate stop (gdb=wait). */
extern uint8_t gdb_breakpoint_insn[];
__attribute__((noinline)) void gdb_breakpoint(void)
{
    __asm__ volatile(".globl gdb_breakpoint_insn\n\tgdb_breakpoint_insn: int3" ::: "memory");
}

static bool on_bp(struct regs *r, struct rsp_stop *why)
{
    uint64_t at = r->rip - 1;       /* #BP is a trap: RIP is past the INT3 */
    if (gdb_is_sw_breakpoint(at)) {
        r->rip = at;                /* gdb wants the breakpoint's address (swbreak) */
        *why = (struct rsp_stop){ .signal = SIGTRAP, .reason = RSP_STOP_SWBREAK };
        return true;
    }
    if (at == (uint64_t)gdb_breakpoint_insn) {
        *why = (struct rsp_stop){ .signal = SIGTRAP, .reason = RSP_STOP_SIGNAL };
        return true;
    }
    return false;
}

static bool on_db(struct gdb_cpu *c, struct regs *r, struct rsp_stop *why)
{
    bool exec = false, stale = false;
    bool hit = gdb_dr_hit(why, &exec, &stale);     /* consumes its DR6 bits */
    uint64_t dr6 = read_dr(6);
    bool stepped = c->stepping && (dr6 & DR6_BS);
    if (stepped) {
        c->stepping = false;
        r->rflags &= ~RFLAGS_TF;
        write_dr(6, dr6 & ~DR6_BS);
    }
    if (!hit && !stepped)
        return stale;   /* a stale hit is ours too: resume, report nothing */
    if (!hit)
        *why = (struct rsp_stop){ .signal = SIGTRAP, .reason = RSP_STOP_SIGNAL };
    if (exec)
        r->rflags |= RFLAGS_RF;     /* resume without hitting it again (SDM Vol. 3B, 18.3.1.1) */
    return true;
}

static bool on_trap(struct regs *r)
{
    struct gdb_cpu *c = &gdb_cpus[this_cpu_index()];
    struct rsp_stop why;
    why.signal = 0;
    bool ours = r->vector == VEC_BP ? on_bp(r, &why) : on_db(c, r, &why);
    if (!ours || !why.signal)
        return ours;    /* not ours, or ours with nothing to report */
    gdb_stop(r, &why);
    return true;
}

static uint8_t fatal_signal(const struct regs *r)
{
    if (!r)
        return SIGABRT;
    switch (r->vector) {
    case VEC_PF: case VEC_GP: case 12 /* #SS */: case 11 /* #NP */: return SIGSEGV;
    case VEC_UD: return SIGILL;
    case 0 /* #DE */: case 16 /* #MF */: case 19 /* #XM */: return SIGFPE;
    default: return SIGTRAP;
    }
}

/* A fatal error stops into the stub and stays there: continuing would run
 * the faulting instruction again, so a `continue` stops here again. */
static void on_fatal(struct regs *r, const char *why)
{
    struct gdb_cpu *c = &gdb_cpus[this_cpu_index()];
    printf("gdb: %s: stopped for the debugger (gdb=%s); connect gdb to inspect\n", why,
           gdb.raw ? "raw" : "on");
    struct rsp_stop s = { .signal = fatal_signal(r), .reason = RSP_STOP_SIGNAL };
    for (;;) {
        if (!r)
            gdb_capture_here(&c->synth);
        gdb_stop(r, &s);
    }
}

static void break_in_poll(void)
{
    if (!__atomic_exchange_n(&gdb.break_asked, false, __ATOMIC_ACQ_REL))
        return;
    struct gdb_cpu *c = &gdb_cpus[this_cpu_index()];
    struct rsp_stop s = { .signal = SIGINT, .reason = RSP_STOP_SIGNAL };
    gdb_capture_here(&c->synth);
    gdb_stop(NULL, &s);
}

static void break_in_at_entry(struct vcpu *v) { break_in_poll(); }

void gdb_interrupt(void *ctx)
{
    gdb.break_tsc = rdtsc();
    __atomic_store_n(&gdb.break_asked, true, __ATOMIC_RELEASE);
}

static const struct exception_debugger debugger = { on_nmi, on_trap, on_fatal };

void gdbstub_init(void)
{
    if (hv_config.gdb == GDB_OFF)
        return;
    gdb.raw = GDB_IS_RAW(hv_config.gdb);
    gdb_transport_init();
    gdb_dr_init();
    nmi_set_stop_hook(on_nmi_layer);
    vmx_before_entry_register(ENTRY_STAGE_EVENTS, break_in_at_entry);
    cpu_idle_set_hook(break_in_poll);
    exception_set_debugger(&debugger);
    enabled = true;
    printf("gdb: stub on (%s transport)%s\n", gdb.raw ? "raw RSP" : "framed GDB channel",
           GDB_IS_WAIT(hv_config.gdb) ? ", waiting for gdb" : "");
}

void gdbstub_boot_wait(void)
{
    if (!enabled || !GDB_IS_WAIT(hv_config.gdb))
        return;
    printf("gdb: gdb=wait: stopped in hv_main until gdb continues\n");
    gdb_breakpoint();
}
