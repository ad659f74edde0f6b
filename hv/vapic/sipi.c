/* The guest's APs: each waits in the hypervisor (cpu_idle) until the guest
 * sends it a SIPI, then enters its guest in real mode at vector:0000. An
 * INIT to an AP whose guest already runs (a second INIT-SIPI-SIPI, as some
 * firmware does) marks it RESETTING and kicks it with an NMI: its next
 * exit, whatever the reason, ends in vapic_reset_ap() and it goes back to
 * waiting. (A physical INIT would do it architecturally, through an INIT
 * exit, but Bochs 2.7 leaves that INIT pending after the exit, so every
 * later VM entry exits again.) The kick may also count as a guest NMI: the
 * reset drops pending NMIs, as INIT does. */
#include "console/console.h"
#include "cpu/lapic.h"
#include <percpu.h>
#include "trace/trace.h"
#include "cpu/tsc.h"
#include <x86.h>
#include "nmi/nmi.h"
#include "smp/work.h"
#include "vapic/vapic.h"
#include "vmx/controls.h"
#include "vmx/ept.h"
#include "vmx/guest_start.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"
#include "vmx/exit_table.h"

#define RESET_WAIT_MS 500

static bool move(struct vcpu *t, uint32_t from, uint32_t to)
{
    return __atomic_compare_exchange_n(&t->run_state, &from, to, false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

void vapic_guest_init(struct vcpu *t)
{
    for (;;) {
        uint32_t st = __atomic_load_n(&t->run_state, __ATOMIC_ACQUIRE);
        if (st == GUEST_RUNNING) {
            if (move(t, st, GUEST_RESETTING)) {
                lapic_send_ipi(percpu_table[t->index].apic_id, ICR_NMI);
                return;
            }
        } else if (st == GUEST_SIPI_READY) {
            if (move(t, st, GUEST_WAIT_SIPI))
                return;
        } else {
            return;     /* waiting already, or its INIT exit is on the way */
        }
    }
}

void vapic_guest_sipi(struct vcpu *t, uint8_t vector)
{
    /* INIT, then SIPI soon after: let the target finish its INIT exit. */
    uint64_t until = rdtsc() + RESET_WAIT_MS * tsc_per_ms;
    while (__atomic_load_n(&t->run_state, __ATOMIC_ACQUIRE) == GUEST_RESETTING &&
           rdtsc() < until)
        cpu_relax();
    if (__atomic_load_n(&t->run_state, __ATOMIC_ACQUIRE) != GUEST_WAIT_SIPI)
        return;     /* running already: the second SIPI of a pair */
    t->sipi_vector = vector;
    if (move(t, GUEST_WAIT_SIPI, GUEST_SIPI_READY))
        lapic_send_ipi(percpu_table[t->index].apic_id, VEC_WAKEUP);
}

static void __attribute__((noreturn)) start_ap_guest(struct vcpu *v)
{
    uint8_t vector = v->sipi_vector;
    trace_event(TEV_SIPI_RECEIVED, vector);
    printf("vapic: cpu%u: guest AP starts at %04x:0000 (SIPI vector %#x)\n",
           v->index, vector << 8, vector);
    vmx_guest_real_mode(vector << 8, 0, 0);
    vmcs_write(ENTRY_INTR_INFO, 0);
    vmcs_write(EXCEPTION_BITMAP, 0);        /* a LAPIC step cut short by INIT */
    ept_set_page(v->eptp, v->lapic_pte, 0);
    v->step.active = false;
    v->nmi_hold = false;
    nmi_reset(v);
    __atomic_store_n(&v->run_state, GUEST_RUNNING, __ATOMIC_RELEASE);
    int launch = !v->launched;
    v->launched = true;
    vmx_prepare_entry(v);
    vmx_enter_guest(v, launch);
}

void vapic_idle_poll(void)
{
    struct vcpu *v = &vcpus[this_cpu_index()];
    if (v->vmcs_phys && __atomic_load_n(&v->run_state, __ATOMIC_ACQUIRE) == GUEST_SIPI_READY)
        start_ap_guest(v);
}

void vapic_reset_ap(struct vcpu *v)
{
    trace_event(TEV_INIT_RECEIVED);
    nmi_reset(v);
    __atomic_store_n(&v->run_state, GUEST_WAIT_SIPI, __ATOMIC_RELEASE);
    printf("vapic: cpu%u: INIT: the guest AP stops and waits for a SIPI\n", v->index);
    cpu_idle();     /* vapic_idle_poll starts it again */
}
