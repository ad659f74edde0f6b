/* All-stop: when one CPU stops (breakpoint, watchpoint, step, break-in,
 * fatal error) it becomes the reporter: it asks every other CPU to stop
 * with an NMI IPI, waits a bounded time until they have parked, tells gdb
 * and runs the command loop. Parked CPUs wait until gdb releases them all
 * (c) or releases one of them to step (s).
 *
 * The rules that keep it from deadlocking, as in quiesce (hv/nmi/, whose
 * model covers this protocol too: MODEL.md, "debugger stop"):
 *  - a request is withdrawn (stop_asked cleared) before the release is
 *    raised, and a CPU leaving its park checks for a new request after
 *    it stops counting as parked (no CPU escapes a stop that began while
 *    it was leaving the last one);
 *  - every spin of the quiesce protocol polls the stop (nmi_stop_poll),
 *    and a stopped CPU answers a quiesce without waiting for its resume
 *    (vcpu.debug_stopped): neither protocol waits for the other;
 *  - one stop IPI in flight per CPU at most, taken back by the CPU that
 *    receives it, so the guest never sees the debugger's NMIs. */
#include "config/config.h"
#include "console/console.h"
#include "cpu/exception.h"
#include "cpu/lapic.h"
#include "cpu/tsc.h"
#include <percpu.h>
#include <x86.h>
#include "gdbstub/stub_internal.h"
#include "nmi/nmi.h"
#include "serial/serial.h"
#include "trace/percpu_rings.h"
#include "trace/trace.h"
#include "vmx/vcpu.h"

#define STOP_WAIT_MS 1000       /* a CPU silent this long is reported, not waited for */

struct gdb_cpu gdb_cpus[MAX_CPUS];
struct gdb_state gdb = { .reporter = -1, .step_cpu = -1 };
static volatile int pending_step = -1;  /* the resume: which CPU steps, -1 all continue */

bool gdb_cpu_is_stopped(uint32_t cpu)
{
    return cpu < MAX_CPUS && __atomic_load_n(&gdb_cpus[cpu].parked, __ATOMIC_ACQUIRE);
}

/* A stop is in force until it is released; stops are numbered, so a CPU
 * late to leave one stop is never counted as parked for the next. */
static bool in_force(uint64_t g)
{
    return g && g > __atomic_load_n(&gdb.released_gen, __ATOMIC_SEQ_CST);
}

bool gdb_stop_asked_now(const struct gdb_cpu *c)
{
    uint64_t g = __atomic_load_n(&c->stop_asked, __ATOMIC_SEQ_CST);
    return in_force(g) && __atomic_load_n(&c->parked, __ATOMIC_SEQ_CST) != g;
}

static void ask_others(uint32_t me, uint64_t g)
{
    for (uint32_t i = 0; i < cpu_count; i++) {
        struct gdb_cpu *o = &gdb_cpus[i];
        if (i == me || !percpu_table[i].online)
            continue;
        __atomic_store_n(&o->stop_asked, g, __ATOMIC_SEQ_CST);
        /* Parked (for this stop, or still leaving an older one: it looks
         * at stop_asked after it clears parked): no NMI needed. */
        if (__atomic_load_n(&o->parked, __ATOMIC_SEQ_CST))
            continue;
        if (!__atomic_exchange_n(&o->ipi_in_flight, 1, __ATOMIC_ACQ_REL))
            lapic_send_ipi(percpu_table[i].apic_id, ICR_NMI);
    }
}

static uint32_t not_parked(uint32_t me, uint64_t g, bool report)
{
    uint32_t missing = 0;
    for (uint32_t i = 0; i < cpu_count; i++) {
        if (i == me || !percpu_table[i].online ||
            __atomic_load_n(&gdb_cpus[i].parked, __ATOMIC_SEQ_CST) == g)
            continue;
        missing++;
        if (report)
            printf("gdb: cpu%u did not stop within %u ms (%s); it runs on\n", i, STOP_WAIT_MS,
                   percpu_table[i].parked ? "parked by a fatal error" : "NMIs blocked?");
    }
    return missing;
}

static void wait_others(uint32_t me, uint64_t g)
{
    uint64_t deadline = rdtsc() + STOP_WAIT_MS * tsc_per_ms;
    while (not_parked(me, g, false)) {
        if (rdtsc() > deadline) {
            not_parked(me, g, true);
            break;
        }
        cpu_relax();
    }
    gdb.all_parked_tsc = rdtsc();
}

/* Parked for stop g: until it is released, a step of its own, or work. */
static void park_for(struct gdb_cpu *c, uint32_t me, uint64_t g)
{
    __atomic_store_n(&c->parked, g, __ATOMIC_SEQ_CST);
    trace_event(TEV_GDB_PARKED, (uint64_t)(int64_t)gdb.reporter);
    while (in_force(g)) {
        int expected = (int)me;
        if (__atomic_compare_exchange_n(&gdb.step_cpu, &expected, -1, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            c->step_go = true;
            break;
        }
        void (*fn)(void *) = __atomic_load_n(&c->call, __ATOMIC_ACQUIRE);
        if (fn) {
            fn(c->call_arg);
            __atomic_store_n(&c->call, NULL, __ATOMIC_RELAXED);
            __atomic_store_n(&c->call_done, true, __ATOMIC_RELEASE);
        }
        cpu_relax();
    }
}

/* Leaving: parked is cleared first, then a newer stop looked for (the
 * reporter sets stop_asked before it looks at parked), then what gdb
 * wrote goes back. */
static void leave(struct gdb_cpu *c, uint32_t me, struct regs *frame, bool trap)
{
    for (;;) {
        __atomic_store_n(&c->parked, 0, __ATOMIC_SEQ_CST);
        uint64_t g = __atomic_load_n(&c->stop_asked, __ATOMIC_SEQ_CST);
        if (c->step_go || !in_force(g))
            break;
        park_for(c, me, g);
    }
    c->frame = frame;       /* an outer stop's frame again, if we nested */
    c->trap_frame = trap;
    if (c->step_go) {
        c->step_go = false;
        c->stepping = true;
        c->frame->rflags |= RFLAGS_TF;
    }
    gdb_writeback(c);
}

void gdb_stop_if_asked(struct gdb_cpu *c, struct regs *frame)
{
    uint32_t me = this_cpu_index();
    uint64_t g = __atomic_load_n(&c->stop_asked, __ATOMIC_SEQ_CST);
    if (!in_force(g) || __atomic_load_n(&c->parked, __ATOMIC_SEQ_CST) == g)
        return;
    struct regs *outer = c->frame;
    bool outer_trap = c->trap_frame;
    c->frame = frame ? frame : &c->synth;
    c->trap_frame = frame != NULL;
    gdb_capture(c);
    park_for(c, me, g);
    leave(c, me, c->depth > 1 ? outer : c->frame, c->depth > 1 ? outer_trap : c->trap_frame);
}

static void command_loop(void)
{
    while (!__atomic_load_n(&gdb.resume_now, __ATOMIC_ACQUIRE)) {
        gdb_service_line();
        cpu_relax();
    }
}

/* Another CPU reports: this one waits to be asked (its NMI may nest and
 * park it right here), or for the reporter to finish so it can report
 * its own stop. True: it parked and was released (its own event is
 * dropped; a breakpoint of ours left RIP on the INT3, so it fires again). */
static bool lose_to_reporter(struct gdb_cpu *c, uint32_t me)
{
    for (;;) {
        int expected = -1;
        if (__atomic_compare_exchange_n(&gdb.reporter, &expected, (int)me, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return false;
        uint64_t g = __atomic_load_n(&c->stop_asked, __ATOMIC_SEQ_CST);
        if (in_force(g)) {
            park_for(c, me, g);
            return true;
        }
        cpu_relax();
    }
}

void gdb_stop(struct regs *frame, const struct rsp_stop *why)
{
    uint32_t me = this_cpu_index();
    struct gdb_cpu *c = &gdb_cpus[me];
    for (;;) {
        c->frame = frame ? frame : &c->synth;
        c->trap_frame = frame != NULL;
        gdb_capture(c);
        if (!lose_to_reporter(c, me))
            break;
        leave(c, me, c->frame, c->trap_frame);
        /* Another CPU's stop came first. Our INT3 fires again (RIP is on
         * it) and a break-in is answered; a watchpoint or a debug-register
         * breakpoint (RF set) does not repeat: report it now. */
        if (why->reason == RSP_STOP_SWBREAK || why->signal == 2)
            return;
    }
    /* A stop still in force (we come back from a step): the others are
     * parked for it; else a new one. */
    uint64_t g = __atomic_load_n(&gdb.stop_gen, __ATOMIC_SEQ_CST);
    if (!in_force(g))
        g = __atomic_add_fetch(&gdb.stop_gen, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&c->parked, g, __ATOMIC_SEQ_CST);
    trace_event(TEV_GDB_STOP, why->signal, c->frame->rip);
    /* What led here: the flight recorder's per-exit events go out with
     * the stop (the line's service round while stopped sends them). */
    trace_request_dump();
    uint64_t asked = rdtsc();
    ask_others(me, g);
    wait_others(me, g);
    if (why->signal == 2 && gdb.break_tsc && tsc_per_ms)
        printf("gdb: break-in: 0x03 seen to this CPU stopped %lu us, then every CPU parked "
               "%lu us\n", (asked - gdb.break_tsc) * 1000 / tsc_per_ms,
               (gdb.all_parked_tsc - asked) * 1000 / tsc_per_ms);
    struct rsp_stop s = *why;
    s.thread = (int)me + 1;
    gdb.resume_now = false;
    pending_step = -1;
    gdb_raw_resync();
    rsp_stopped(&gdb.rsp, &s);
    command_loop();
    int step = pending_step;
    trace_event(TEV_GDB_RESUME, (uint64_t)(int64_t)step);
    /* A parked CPU the line was taken from gets it back before anyone runs
     * on (its drain continues; two writers would interleave), also when
     * only one CPU is released to step: it may be that CPU. */
    serial_line_return();
    if (step < 0) {
        /* Released before the reporter lets go: a CPU that reports next
         * must find this stop over and begin its own. */
        __atomic_store_n(&gdb.released_gen, g, __ATOMIC_SEQ_CST);
        __atomic_store_n(&gdb.reporter, -1, __ATOMIC_SEQ_CST);
    } else if (step == (int)me) {
        c->step_go = true;      /* the others stay parked */
        __atomic_store_n(&gdb.reporter, -1, __ATOMIC_SEQ_CST);
    } else {
        __atomic_store_n(&gdb.reporter, -1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&gdb.step_cpu, step, __ATOMIC_SEQ_CST);
        park_for(c, me, g);     /* until released or stepped ourselves */
    }
    leave(c, me, c->frame, c->trap_frame);
}

/* The target's resume: one CPU steps (the rest stay parked), or all go. */
int gdb_resume(void *ctx, const struct rsp_resume *r)
{
    int step = -1;
    for (int t = 1; t <= (int)cpu_count && t <= RSP_MAX_THREADS; t++)
        if (r->action[t] == RSP_ACT_STEP) {
            step = t - 1;
            break;
        }
    if (step >= 0) {
        struct gdb_cpu *s = &gdb_cpus[step];
        if (!gdb_cpu_is_stopped(step) || !s->trap_frame || gdb.view_guest)
            return 22;  /* no trap frame to set TF in (or a guest view: not yet) */
    }
    if (r->has_addr) {
        int t = gdb.rsp.c_thread > 0 ? gdb.rsp.c_thread - 1 : gdb.reporter;
        if (t >= 0 && !gdb.view_guest)
            gdb_cpus[t].frame->rip = r->addr;
    }
    pending_step = step;
    __atomic_store_n(&gdb.resume_now, true, __ATOMIC_RELEASE);
    return 0;
}

void gdb_detach(void *ctx)
{
    gdb_breakpoints_clear();
    gdb_dr_clear();
    pending_step = -1;
    __atomic_store_n(&gdb.resume_now, true, __ATOMIC_RELEASE);
}

bool gdb_run_on(uint32_t cpu, void (*fn)(void *), void *arg)
{
    if (cpu == this_cpu_index()) {
        fn(arg);
        return true;
    }
    struct gdb_cpu *c = &gdb_cpus[cpu];
    if (cpu >= cpu_count || !gdb_cpu_is_stopped(cpu))
        return false;
    c->call_arg = arg;
    __atomic_store_n(&c->call_done, false, __ATOMIC_RELEASE);
    __atomic_store_n(&c->call, fn, __ATOMIC_RELEASE);
    uint64_t deadline = rdtsc() + STOP_WAIT_MS * tsc_per_ms;
    while (!__atomic_load_n(&c->call_done, __ATOMIC_ACQUIRE)) {
        if (rdtsc() > deadline) {
            __atomic_store_n(&c->call, NULL, __ATOMIC_RELEASE);
            return false;
        }
        cpu_relax();
    }
    return true;
}
