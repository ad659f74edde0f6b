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

static void ask_others(uint32_t me)
{
    for (uint32_t i = 0; i < cpu_count; i++) {
        struct gdb_cpu *o = &gdb_cpus[i];
        if (i == me || !percpu_table[i].online)
            continue;
        __atomic_store_n(&o->stop_asked, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&o->parked, __ATOMIC_SEQ_CST))
            continue;   /* parked already: it sees the request when it leaves */
        if (!__atomic_exchange_n(&o->ipi_in_flight, 1, __ATOMIC_ACQ_REL))
            lapic_send_ipi(percpu_table[i].apic_id, ICR_NMI);
    }
}

static void wait_others(uint32_t me)
{
    uint64_t deadline = rdtsc() + STOP_WAIT_MS * tsc_per_ms;
    for (;;) {
        uint32_t missing = 0;
        for (uint32_t i = 0; i < cpu_count; i++)
            if (i != me && percpu_table[i].online && !gdb_cpu_is_stopped(i))
                missing++;
        if (!missing)
            break;
        if (rdtsc() > deadline) {
            for (uint32_t i = 0; i < cpu_count; i++)
                if (i != me && percpu_table[i].online && !gdb_cpu_is_stopped(i))
                    printf("gdb: cpu%u did not stop within %u ms (%s); it runs on\n", i,
                           STOP_WAIT_MS, percpu_table[i].parked ? "parked by a fatal error"
                                                                : "NMIs blocked?");
            break;
        }
        cpu_relax();
    }
    gdb.all_parked_tsc = rdtsc();
}

/* A parked CPU: waits for the release, a step of its own, or work. */
static void park(struct gdb_cpu *c, uint32_t me)
{
    uint64_t gen = __atomic_load_n(&gdb.release_gen, __ATOMIC_ACQUIRE);
    __atomic_store_n(&c->parked, 1, __ATOMIC_SEQ_CST);
    trace_event(TEV_GDB_PARKED, (uint64_t)(int64_t)gdb.reporter);
    while (__atomic_load_n(&gdb.release_gen, __ATOMIC_ACQUIRE) == gen) {
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

/* Leaving a stop: what gdb wrote goes back, then (the order matters, see
 * the top) parked is cleared and a new request looked for. */
static void leave(struct gdb_cpu *c, uint32_t me)
{
    for (;;) {
        __atomic_store_n(&c->parked, 0, __ATOMIC_SEQ_CST);
        if (c->step_go || !__atomic_load_n(&c->stop_asked, __ATOMIC_SEQ_CST))
            break;
        __atomic_store_n(&c->stop_asked, 0, __ATOMIC_SEQ_CST);
        park(c, me);    /* a new stop began while we were leaving */
    }
    if (c->step_go) {
        c->step_go = false;
        c->stepping = true;
        c->frame->rflags |= RFLAGS_TF;
    }
    gdb_writeback(c);
}

/* Stops this CPU for a stop another CPU reports (its NMI, or a spin that
 * polls). frame NULL: c->synth was captured by the caller. */
void gdb_stop_asked_here(struct gdb_cpu *c, struct regs *frame)
{
    uint32_t me = this_cpu_index();
    __atomic_store_n(&c->stop_asked, 0, __ATOMIC_SEQ_CST);
    c->frame = frame ? frame : &c->synth;
    c->trap_frame = frame != NULL;
    gdb_capture(c);
    park(c, me);
    leave(c, me);
}

static void command_loop(void)
{
    while (!__atomic_load_n(&gdb.resume_now, __ATOMIC_ACQUIRE)) {
        gdb_service_line();
        cpu_relax();
    }
}

static void release_all(void)
{
    for (uint32_t i = 0; i < cpu_count; i++)
        __atomic_store_n(&gdb_cpus[i].stop_asked, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&gdb.reporter, -1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&gdb.release_gen, 1, __ATOMIC_SEQ_CST);
}

void gdb_stop(struct regs *frame, const struct rsp_stop *why)
{
    uint32_t me = this_cpu_index();
    struct gdb_cpu *c = &gdb_cpus[me];
    __atomic_store_n(&c->stop_asked, 0, __ATOMIC_SEQ_CST);
    c->frame = frame ? frame : &c->synth;
    c->trap_frame = frame != NULL;
    gdb_capture(c);
    int expected = -1;
    if (!__atomic_compare_exchange_n(&gdb.reporter, &expected, (int)me, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        /* Another CPU reports: stopped like the others. A breakpoint of
         * ours left RIP on the INT3, so it fires again after the release. */
        park(c, me);
        leave(c, me);
        return;
    }
    __atomic_store_n(&c->parked, 1, __ATOMIC_SEQ_CST);
    trace_event(TEV_GDB_STOP, why->signal, c->frame->rip);
    ask_others(me);
    wait_others(me);
    struct rsp_stop s = *why;
    s.thread = (int)me + 1;
    gdb.resume_now = false;
    pending_step = -1;
    rsp_stopped(&gdb.rsp, &s);
    command_loop();
    int step = pending_step;
    trace_event(TEV_GDB_RESUME, (uint64_t)(int64_t)step);
    if (step < 0) {
        release_all();
    } else if (step == (int)me) {
        c->step_go = true;      /* the others stay parked */
        __atomic_store_n(&gdb.reporter, -1, __ATOMIC_SEQ_CST);
    } else {
        __atomic_store_n(&gdb.reporter, -1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&gdb.step_cpu, step, __ATOMIC_SEQ_CST);
        park(c, me);            /* until released or stepped ourselves */
    }
    leave(c, me);
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
