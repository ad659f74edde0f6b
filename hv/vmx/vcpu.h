/* Per-CPU virtualisation state. The guest's general registers live here
 * while the hypervisor runs (vmx_entry.S saves and restores them). */
#ifndef HV_VMX_VCPU_H
#define HV_VMX_VCPU_H
#include <stdint.h>
#include <stdbool.h>

struct guest_regs {             /* order fixed: vmx_entry.S uses offsets */
    uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

struct vcpu {
    struct guest_regs regs;     /* offset 0 */
    uint32_t index;
    uint64_t vmxon_phys, vmcs_phys;
    uint8_t *exit_stack;        /* the stack exits run on */
    bool launched;
    uint64_t exits;
    uint64_t events_cut;                /* exits with IDT-vectoring info (vectoring.c) */
    uint32_t last_reason;       /* for reports from other CPUs: VMREAD only */
    uint64_t last_rip, last_rflags, last_cr0;    /* works on the own VMCS */
    uint64_t exit_count[70];    /* by basic exit reason, for the bench */
    int64_t tsc_offset;         /* guest TSC - host TSC (tsc_msr.c) */
    int64_t tsc_adjust;         /* the guest's IA32_TSC_ADJUST */
    /* An owner wants this CPU back in the hypervisor by this host TSC (0:
     * no wish; the NMI storm sets it). The core composes the VMX-
     * preemption timer once per entry from it (exit.c); nobody else writes
     * the timer. */
    uint64_t exit_by_tsc;
    uint32_t timer_value;       /* the timer value in the VMCS now */

    /* Guest life cycle on this CPU (hv/vapic/sipi.c): the BSP's guest runs
     * from launch; an AP's waits in the hypervisor for the guest's SIPI. */
    volatile uint32_t run_state;    /* enum guest_run_state */
    volatile uint8_t sipi_vector;

    /* NMI virtualisation and quiesce (hv/nmi/, the protocol of
     * hv/nmi/nmi_model.pml). Written by this CPU, also from its NMI path. */
    volatile uint32_t nmi_pending;      /* 0/1: the architectural one-pending limit */
    volatile bool entry_committed;      /* VMCS final until the next exit */
    bool nmi_window_wanted;             /* nmi's part of the controls for this entry */
    volatile bool stopped;              /* answered the current quiesce */
    bool nmi_hold;                      /* no injection now (LAPIC step) */
    uint64_t nmi_injected, nmi_coalesced, nmi_dropped, quiesce_answered;
    /* Stopped by the debugger (hv/gdbstub/): a quiesce NMI then only
     * acknowledges (the CPU is stopped already) and the wait for the
     * resume signal is owed until the debugger releases it. */
    volatile bool debug_stopped;
    volatile bool quiesce_owed;

    /* Guest LAPIC access being single-stepped (hv/vapic/xapic_step.c). */
    struct lapic_step {
        bool active;
        bool write;                     /* the faulting access was a write */
        /* The 32-bit VMCS copy sits right before another 32-bit member, as
         * in XMHF's vcpu: a 64-bit store into it (a VMREAD with a memory
         * operand) would zero `reg` (the vmcs-width drill relies on it). */
        uint32_t saved_exc_bitmap;
        uint32_t reg;                   /* offset in the page of the faulting access */
        uint32_t snapshot;              /* the real register's value, in the scratch page */
        bool x2apic;                    /* the LAPIC was in x2APIC mode: nothing decoded */
        uint8_t width;                  /* operand width of the instruction, 0: not known */
        uint64_t saved_rflags_bits;     /* guest IF and TF before the step */
        uint64_t rip;
        bool mtf;                       /* stepped with MTF (else TF + #DB) */
        uint64_t tsc;                   /* when the step began (its watchdog) */
        uint32_t missed;                /* steps whose end never came (reported) */
    } step;
    /* Does the monitor trap flag work? (hv/vapic/mtf_probe.c) */
    struct mtf_probe {
        bool armed;                     /* MTF set for the probe this entry */
        uint64_t rip;                   /* guest RIP at that entry */
        uint32_t tries;                 /* inconclusive probes so far */
    } mtf_probe;
    uint8_t *lapic_scratch;             /* the page xAPIC accesses are stepped against */
    uint64_t apic_base;                 /* the guest's IA32_APIC_BASE (x2apic_msr.c) */
    uint64_t eptp;                      /* per-CPU EPT root (LAPIC trap) */
    uint64_t ept_generation;            /* EPT memory types last flushed (ept_sync) */
    uint64_t *lapic_pte;                /* the PTE of the guest's LAPIC page */
    /* VM exits caused by LAPIC accesses, by register (offset >> 4, so
     * 0x100 slots cover the whole page whatever the guest touches):
     * [0] the xAPIC page, [1] x2APIC MSRs (0x800 + register). For bench. */
    uint64_t lapic_exits[2][0x100];
    uint64_t lapic_emulated, lapic_stepped;     /* xAPIC accesses by how completed */
};

enum guest_run_state {
    GUEST_WAIT_SIPI = 0,    /* AP before its first SIPI, or after INIT */
    GUEST_SIPI_READY,       /* SIPI accepted: start at sipi_vector:0000 */
    GUEST_RUNNING,
    GUEST_RESETTING,        /* INIT sent to it while running; INIT exit next */
};

extern struct vcpu vcpus[];

#endif
