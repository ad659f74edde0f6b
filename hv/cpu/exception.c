/* Exceptions and interrupts in root mode. Anything unexpected is fatal for
 * the CPU that took it: a named dump, the trace flushed, then the CPU
 * parks (reachable later by the GDB stub). NMIs are not fatal: they are
 * counted, traced and handed to the NMI classifier. */
#include <stdint.h>
#include "console/console.h"
#include <percpu.h>
#include <x86.h>
#include "trace/trace.h"
#include "cpu/lapic.h"
#include "cpu/idt.h"
#include "cpu/exception.h"
#include <image.h>

const char *exception_name(uint64_t vec)
{
    const char *n = catalog_vec_name(vec);
    return n ? n : vec < 32 ? "#reserved" : "irq";
}

static nmi_hook_fn nmi_hook;
static const struct exception_debugger *debugger;

void exception_set_debugger(const struct exception_debugger *d) { debugger = d; }

extern uint8_t checked_copy_insn[], checked_copy_fixup[];
static void (*fatal_flush)(void);

void exception_set_nmi_hook(nmi_hook_fn fn) { nmi_hook = fn; }
void cpu_set_fatal_flush(void (*fn)(void)) { fatal_flush = fn; }

static void dump_backtrace(const struct percpu *p, uint64_t rbp)
{
    for (int i = 0; i < 16 && rbp; i++) {
        /* Only follow frames that lie on one of this CPU's stacks. */
        if ((rbp & 7) || !percpu_on_stack(p, rbp, 16))
            break;
        const uint64_t *frame = (const uint64_t *)rbp;
        printf(" %#lx", frame[1]);
        rbp = frame[0];
    }
    printf("\n");
}

void exception_dump(bool fatal, const char *why, const struct regs *r)
{
    struct percpu *p = this_cpu();
    printf("%s cpu%u apic%u: %s: exception %s (vector %lu) error %#lx\n",
           fatal ? "FATAL" : "REPORT", p->index, p->apic_id, why, exception_name(r->vector), r->vector,
           r->error);
    printf("  rip %016lx  cs %04lx  rflags %016lx  rsp %016lx  ss %04lx\n",
           r->rip, r->cs, r->rflags, r->rsp, r->ss);
    printf("  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx\n",
           r->rax, r->rbx, r->rcx, r->rdx);
    printf("  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx\n",
           r->rsi, r->rdi, r->rbp, r->r8);
    printf("  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx\n",
           r->r9, r->r10, r->r11, r->r12);
    printf("  r13 %016lx  r14 %016lx  r15 %016lx\n", r->r13, r->r14, r->r15);
    printf("  cr0 %016lx  cr2 %016lx  cr3 %016lx  cr4 %016lx\n",
           read_cr0(), read_cr2(), read_cr3(), read_cr4());
    printf("  frames: %#lx", r->rip);
    /* A frameless leaf function leaves its return address at [rsp] and not
     * in the rbp chain; show it marked '?', as a probable caller. */
    if (percpu_on_stack(p, r->rsp, 8)) {
        uint64_t top = *(const uint64_t *)r->rsp;
        if (top >= (uint64_t)hv_text_start && top < (uint64_t)hv_text_end)
            printf(" ?%#lx", top);
    }
    dump_backtrace(p, r->rbp);
}

void cpu_park(void)
{
    struct percpu *p = this_cpu();
    if (debugger && debugger->fatal && !p->parked)
        debugger->fatal(NULL, "fatal stop");    /* returns only if it is off */
    p->parked = true;
    trace_event(TEV_CPU_PARKED, 1);
    if (fatal_flush)
        fatal_flush();          /* every ring flushed before we stop */
    for (;;) {
        irq_disable();
        cpu_halt();     /* NMIs still arrive and return here */
    }
}

void exception_dispatch(struct regs *r)
{
    struct percpu *p = this_cpu();
    uint32_t depth = ++p->exc_depth;
    int origin = depth > 1 ? TRACE_ORIGIN_NESTED : TRACE_ORIGIN_ROOT;

    if (r->vector == VEC_NMI) {
        p->nmi_count++;
        trace_event(TEV_NMI_ENTER, r->rip, origin);
        /* The debugger's stop IPI is not the guest's (the debugger
         * answers a quiesce that came with it itself). */
        bool debuggers = debugger && debugger->nmi(r);
        if (!debuggers && (!nmi_hook || !nmi_hook(r))) {
            printf("NMI cpu%u: unclaimed NMI #%lu\n", p->index, p->nmi_count);
            exception_dump(false, "unclaimed NMI", r);
        }
        trace_event(TEV_NMI_EXIT, r->rip, origin);
        p->exc_depth--;
        /* No drain from here: an NMI may have interrupted the drain itself
         * or a device model; its records wait for the next normal kick. */
        return;
    }
    trace_event(TEV_EXC_ENTER, r->vector, r->rip, origin, r->error);
    if ((r->vector == VEC_PF || r->vector == VEC_GP) && r->rip == (uint64_t)checked_copy_insn) {
        r->rip = (uint64_t)checked_copy_fixup;  /* the checked copy ends here */
        p->exc_depth--;
        return;
    }
    if ((r->vector == VEC_DB || r->vector == VEC_BP) && debugger && debugger->trap(r)) {
        p->exc_depth--;
        return;
    }
    if (depth > 3) {
        /* Faulting inside the fatal path itself: stop digging. */
        cpu_park();
    }
    if (r->vector == VEC_WAKEUP) {
        lapic_eoi();        /* its only job was to end a hlt */
        p->exc_depth--;
        return;
    }
    if (r->vector >= 32) {
        /* Interrupts stay disabled in the hypervisor; one arriving means
         * someone enabled them. Report it and carry on. */
        printf("cpu%u: unexpected interrupt vector %lu at rip %#lx\n",
               p->index, r->vector, r->rip);
        /* A fixed interrupt sits in the LAPIC's ISR until an EOI, blocking
         * every vector of its priority class and below; the spurious
         * vector sets no ISR bit and takes no EOI (SDM Vol. 3A, 10.8.5,
         * 10.9). */
        if (r->vector != (lapic_read(XAPIC_SVR) & 0xff))
            lapic_eoi();
        p->exc_depth--;
        return;
    }
    trace_event(TEV_EXC_FATAL, r->vector, r->rip, r->error, read_cr2());
    exception_dump(true, "unhandled exception", r);
    if (debugger && debugger->fatal)
        debugger->fatal(r, "unhandled exception");
    cpu_park();
}
