/* Quiesce: one CPU stops all the others with NMIs, runs a hypapp section,
 * releases them. The seed's deadlock (XMHF) came from endquiesce raising
 * the resume signal while the request was still up: a released CPU that
 * took another NMI saw the request, stopped again and waited for a signal
 * that was about to drop. Here the request is withdrawn first, and a CPU
 * stops at most once per request (v->stopped). nmi_model.pml checks this
 * protocol, and finds the seed's bug when the order is swapped. */
#include "config/config.h"
#include "console/console.h"
#include <fmt.h>
#include "cpu/lapic.h"
#include <percpu.h>
#include "trace/trace.h"
#include "cpu/tsc.h"
#include <uart16550.h>
#include <x86.h>
#include "nmi/nmi.h"
#include "serial/serial.h"
#include "trace/percpu_rings.h"
#include "vmx/vcpu.h"

static volatile uint32_t quiesce_lock;          /* held by the quiescer */
static volatile bool quiesce_request;
static volatile bool resume_signal;
static volatile uint32_t quiesce_acks, resume_acks;
static volatile uint32_t quiesce_owner;
static uint32_t quiesce_want;                   /* CPUs this request waits for */
static volatile uint32_t in_section;            /* for the exclusivity check */
static uint64_t request_tsc;
/* Requests are numbered so that a CPU answering one request twice is
 * seen (the model's property 4; the seed log's "EOQ received, resuming"
 * followed by "Quiesced"): it means a CPU was released while the request
 * was still up. */
static volatile uint64_t request_gen;
static uint64_t answered_gen[MAX_CPUS];

/* The CPUs a quiesce waits for: every other CPU in VMX operation. */
static bool participates(uint32_t cpu, uint32_t self)
{
    return cpu != self && percpu_table[cpu].online && vcpus[cpu].vmcs_phys;
}

static uint64_t report_interval(void)
{
    return hv_config.quiesce_report_ms * tsc_per_ms;
}

/* Waiting with NMIs blocked for another CPU's signal: if it never comes
 * (that CPU parked, hangs, or lost the signal), this CPU must say so
 * rather than hang silently. Reported every quiesce_report_ms. */
static void report_wait(struct vcpu *v, const char *for_what, uint32_t cpu, uint64_t since)
{
    const struct percpu *p = &percpu_table[cpu];
    const struct vcpu *o = &vcpus[cpu];
    const char *last = catalog_exit_name(o->last_reason);
    printf("quiesce: cpu%u still waiting for %s from cpu%u after %lu ms; cpu%u: %s, exits %lu, "
           "last exit %s at guest rip %#lx\n", v->index, for_what, cpu,
           (rdtsc() - since) / tsc_per_ms, cpu,
           p->parked ? "parked" : p->exc_depth ? "inside an exception/NMI handler"
                                                : "not in a handler",
           o->exits, last ? last : "none", o->last_rip);
    trace_event(TEV_QUIESCE_STRAGGLER, cpu, (rdtsc() - since) / tsc_per_ms);
}

static void wait_resume(struct vcpu *v, uint32_t owner);

/* PLANTED BUG (HV_BUGS=print-in-quiesce): a print that takes a spinlock
 * (the XMHF printf's), here printing nothing: it holds the lock while it
 * waits for the UART to be idle. quiesce() calls it while it waits for
 * the other CPUs, and so does a CPU waiting for the quiesce lock; a
 * holder stopped by the quiesce NMI never lets go (seed 001). */
#ifdef HV_BUG_PRINT_IN_QUIESCE
static volatile uint32_t print_lock;

static void print_lock_take(void)
{
    while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
        cpu_relax();
}

static void locked_print(void)
{
    print_lock_take();
    while (!(inb(hv_config.uart_port + UART_LSR) & LSR_TX_IDLE))
        cpu_relax();
    __atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}
#endif

/* NMI context: the text waits in this CPU's ring for the next drain. */
static void check_answered_once(struct vcpu *v, uint32_t owner)
{
    uint64_t gen = __atomic_load_n(&request_gen, __ATOMIC_ACQUIRE);
    if (answered_gen[v->index] == gen)
        printf("quiesce: cpu%u stopped twice for one request (#%lu) of cpu%u: it was "
               "released while the request was still up\n", v->index, gen, owner);
    answered_gen[v->index] = gen;
}

bool quiesce_answer(struct vcpu *v)
{
    if (!__atomic_load_n(&quiesce_request, __ATOMIC_ACQUIRE) || v->stopped)
        return false;
    v->stopped = true;
    uint32_t owner = quiesce_owner;
    check_answered_once(v, owner);
    trace_event(TEV_QUIESCE_JOINED, owner, rdtsc() - request_tsc);
    __atomic_fetch_add(&quiesce_acks, 1, __ATOMIC_ACQ_REL);
    if (__atomic_load_n(&v->debug_stopped, __ATOMIC_ACQUIRE)) {
        /* Stopped by the debugger (this NMI nests in its stop, or the
         * debugger's own loop polls): stopped is what the quiescer needs;
         * the wait for its resume signal comes when the debugger lets
         * this CPU go (quiesce_settle_owed). Waiting here would hold the
         * debugger, which may hold the quiescer. */
        v->quiesce_owed = true;
        return true;
    }
    wait_resume(v, owner);
    return true;
}

void quiesce_settle_owed(struct vcpu *v)
{
    if (!v->quiesce_owed)
        return;
    v->quiesce_owed = false;
    wait_resume(v, quiesce_owner);
}

/* A CPU waiting inside its NMI handler never drains (serial.h): its
 * reports wait in its ring for a drain from normal context. If every
 * other CPU is stuck as well (the quiescer itself hangs), no drain comes
 * and the watchdog would report to nobody. After STUCK_REPORTS reports
 * the machine is as good as stopped: this CPU services the line as a
 * stopped machine's CPU does (bounded wait for its owner, then over), at
 * every pass, so its reports go out and host input (gdb) is read before
 * the UART's receive FIFO overflows. */
#define STUCK_REPORTS 2

static bool stuck_in_nmi(unsigned reports)
{
    return reports >= STUCK_REPORTS && this_cpu()->exc_depth;
}

static void wait_resume(struct vcpu *v, uint32_t owner)
{
    uint64_t t0 = rdtsc(), report_at = t0 + report_interval();
    unsigned reports = 0;
    while (!__atomic_load_n(&resume_signal, __ATOMIC_ACQUIRE)) {
        cpu_relax();
        nmi_stop_poll(v);
        if (rdtsc() > report_at) {
            report_wait(v, "the resume signal", owner, t0);
            reports++;
            report_at = rdtsc() + report_interval();
        }
        if (stuck_in_nmi(reports))
            serial_service_stuck();
    }
    /* stopped is cleared before the acknowledgement: once the quiescer has
     * every ack it may ask again at once, and from quiesce_settle_owed
     * (NMIs open) that NMI must find this CPU ready to answer (spin
     * model: SETTLE_ACK_FIRST is the old order, and deadlocks). */
    v->stopped = false;
    v->quiesce_answered++;
    trace_event(TEV_QUIESCE_RELEASED, owner, rdtsc() - t0);
    __atomic_fetch_add(&resume_acks, 1, __ATOMIC_ACQ_REL);
}

static void report_stragglers(uint32_t self, uint64_t waited_ms)
{
    for (uint32_t c = 0; c < cpu_count; c++) {
        if (!participates(c, self) || vcpus[c].stopped)
            continue;
        const struct vcpu *o = &vcpus[c];
        const struct percpu *p = &percpu_table[c];
        const char *last = catalog_exit_name(o->last_reason);
        printf("quiesce: cpu%u (apic %u) has not answered the quiesce NMI after %lu ms\n",
               c, p->apic_id, waited_ms);
        printf("quiesce: cpu%u state: guest %s, %s, NMIs taken %lu, last exit %s at guest rip "
               "%#lx, exits %lu\n", c,
               o->run_state == GUEST_RUNNING ? "running" : "not running",
               p->parked ? "parked" : p->exc_depth ? "inside an exception/NMI handler"
                                                    : "not in a handler",
               p->nmi_count, last ? last : "none", o->last_rip, o->exits);
        trace_event(TEV_QUIESCE_STRAGGLER, c, waited_ms);
    }
    trace_request_dump();   /* its held trace events go out too */
}

uint32_t quiesce(struct vcpu *v)
{
    uint32_t self = v->index;
    while (__atomic_exchange_n(&quiesce_lock, 1, __ATOMIC_ACQUIRE)) {
        cpu_relax();        /* NMIs open: the holder can stop us meanwhile */
        nmi_stop_poll(v);
        /* PLANTED BUG (HV_BUGS=print-in-quiesce): prints while it waits. */
#ifdef HV_BUG_PRINT_IN_QUIESCE
        locked_print();
#endif
    }
    v->stopped = true;
    quiesce_owner = self;
    __atomic_store_n(&quiesce_acks, 0, __ATOMIC_RELEASE);
    __atomic_fetch_add(&request_gen, 1, __ATOMIC_ACQ_REL);
    request_tsc = rdtsc();
    __atomic_store_n(&quiesce_request, true, __ATOMIC_SEQ_CST);
    uint32_t want = 0;
    uint64_t mask = 0;
    for (uint32_t c = 0; c < cpu_count; c++)
        if (participates(c, self)) {
            want++;
            mask |= 1ull << c;
            lapic_send_ipi(percpu_table[c].apic_id, ICR_NMI);
        }
    trace_event(TEV_QUIESCE_REQUEST, mask);
    /* PLANTED BUG (HV_BUGS=print-in-quiesce): a locked print while the
     * other CPUs are being stopped (the seed's debug message). */
#ifdef HV_BUG_PRINT_IN_QUIESCE
    locked_print();
#endif
    uint64_t report_at = request_tsc + report_interval();
    while (__atomic_load_n(&quiesce_acks, __ATOMIC_ACQUIRE) < want) {
        cpu_relax();
        nmi_stop_poll(v);
        if (rdtsc() > report_at) {
            report_stragglers(self, (rdtsc() - request_tsc) / tsc_per_ms);
            report_at = rdtsc() + report_interval();
        }
    }
    quiesce_want = want;        /* endquiesce waits for the same CPUs */
    trace_event(TEV_QUIESCE_ALL_IN, mask, rdtsc() - request_tsc);
    __atomic_fetch_add(&in_section, 1, __ATOMIC_ACQ_REL);
    return want;
}

void endquiesce(struct vcpu *v)
{
    uint32_t self = v->index, want = quiesce_want;
    __atomic_fetch_sub(&in_section, 1, __ATOMIC_ACQ_REL);
    /* A CPU stuck in its wait may have taken the line from a parked owner
     * (serial_service_stuck): the owner gets it back before it runs on. */
    serial_line_return();
    /* PLANTED BUG (HV_BUGS=endquiesce-order): the seed's (XMHF's) order:
     * resume is signalled while the request is still up, and the request
     * is withdrawn only after every CPU acknowledged the resume; a CPU
     * released meanwhile that takes one more NMI stops a second time. */
#ifdef HV_BUG_ENDQUIESCE_ORDER
    __atomic_store_n(&resume_acks, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&resume_signal, true, __ATOMIC_SEQ_CST);
#else
    /* Withdraw the request BEFORE signalling resume (the seed's fix). */
    __atomic_store_n(&quiesce_request, false, __ATOMIC_SEQ_CST);
    __atomic_store_n(&resume_acks, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&resume_signal, true, __ATOMIC_SEQ_CST);
#endif
    uint64_t t0 = rdtsc(), report_at = t0 + report_interval();
    while (__atomic_load_n(&resume_acks, __ATOMIC_ACQUIRE) < want) {
        cpu_relax();
        nmi_stop_poll(v);
        if (rdtsc() > report_at) {
            for (uint32_t c = 0; c < cpu_count; c++)
                if (participates(c, self) && vcpus[c].stopped)
                    report_wait(v, "a resume acknowledgement", c, t0);
            report_at = rdtsc() + report_interval();
        }
    }
    /* PLANTED BUG (HV_BUGS=endquiesce-order): the withdrawal, late. */
#ifdef HV_BUG_ENDQUIESCE_ORDER
    __atomic_store_n(&quiesce_request, false, __ATOMIC_SEQ_CST);
#endif
    __atomic_store_n(&resume_signal, false, __ATOMIC_SEQ_CST);
    v->stopped = false;
    trace_event(TEV_QUIESCE_RELEASED, self, rdtsc() - request_tsc);
    __atomic_store_n(&quiesce_lock, 0, __ATOMIC_RELEASE);
}

bool quiesce_requested(void)
{
    return __atomic_load_n(&quiesce_request, __ATOMIC_ACQUIRE);
}

bool quiesce_section_exclusive(struct vcpu *v, char *why, unsigned len)
{
    uint32_t inside = __atomic_load_n(&in_section, __ATOMIC_ACQUIRE);
    if (inside != 1) {
        snprintf(why, len, "%u CPUs inside a quiesced section", inside);
        return false;
    }
    for (uint32_t c = 0; c < cpu_count; c++)
        if (participates(c, v->index) && !vcpus[c].stopped) {
            snprintf(why, len, "cpu%u is not stopped", c);
            return false;
        }
    return true;
}
