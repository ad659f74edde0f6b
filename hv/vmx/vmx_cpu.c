/* VMXON and VMCS set-up, per CPU.
 *
 * SDM references in hv/vmx/ are to the Intel SDM's numbering of the 2016-
 * 2022 editions: Vol. 3C chapter 23 (VMX operation), 24 (the VMCS), 25
 * (non-root operation), 26 (VM entries), 27 (VM exits), 28 (EPT, VPID);
 * Vol. 3D appendix A (capability MSRs) and C (exit reasons). */
#include <string.h>
#include <hvabi.h>
#include "config/config.h"
#include "console/console.h"
#include <percpu.h>
#include "mem/pmm.h"
#include "trace/trace.h"
#include "cpu/tsc.h"
#include <x86.h>
#include "vmx/controls.h"
#include "vmx/ept.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"
#include "vmx/vmx_insn.h"
#include "vmx/exit_table.h"
#include "vmx/handlers.h"
#include "vmx/mtrr.h"

#define EXIT_STACK_SIZE     (16 * 1024)

struct vcpu vcpus[MAX_CPUS];
#define controls vmx_controls
static uint64_t eptp;
static uint8_t *msr_bitmap, *io_bitmaps;   /* io: A (ports 0-7fff), B */
extern uint8_t vmx_exit_entry[];

/* TSC cycles in preemption-timer units (TSC >> IA32_VMX_MISC[4:0]),
 * at least 1, at most the 32-bit field. */
uint32_t vmx_timer_ticks(uint64_t tsc_cycles)
{
    static int shift = -1;
    if (shift < 0)
        shift = (int)(rdmsr(MSR_IA32_VMX_MISC) & 0x1f);
    uint64_t ticks = tsc_cycles >> shift;
    return ticks > 0xffffffff ? 0xffffffff : ticks ? (uint32_t)ticks : 1;
}

/* ~50 ms: the housekeeping period (the drain, host commands). */
uint32_t vmx_preemption_ticks(void)
{
    return vmx_timer_ticks(50 * tsc_per_ms);
}

/* IA32_FEATURE_CONTROL as a CPU without VT-x shows it: locked, VMX off.
 * Writing a locked IA32_FEATURE_CONTROL is #GP (SDM Vol. 3C, 23.7). */
static bool read_feature_control(struct vcpu *v, uint32_t msr, uint64_t *value)
{
    *value = HVABI_FC_LOCK;
    return true;
}

static const struct msr_intercept core_msrs[] = {
    { MSR_IA32_FEATURE_CONTROL, MSR_IA32_FEATURE_CONTROL, false, read_feature_control, NULL,
      "vmx" },
    /* The VMX capability MSRs: #GP, as on a CPU without VMX (SDM Vol. 3D,
     * A.1: they exist only where CPUID.1:ECX.VMX is set, hidden here). */
    { MSR_IA32_VMX_BASIC, MSR_IA32_VMX_LAST, false, NULL, NULL, "vmx" },
};

bool vmx_global_init(void)
{
    if (!vmx_controls_compute(&controls))
        return false;
    eptp = ept_build();
    msr_bitmap = pmm_alloc_pages(1);
    io_bitmaps = pmm_alloc_pages(2);
    if (!eptp || !msr_bitmap || !io_bitmaps)
        return false;
    /* Bitmaps start clear: nothing exits until an owner registers it. */
    vmx_msr_bitmap_set(msr_bitmap);
    vmx_io_bitmaps_set(io_bitmaps);
    for (unsigned i = 0; i < sizeof(core_msrs) / sizeof(core_msrs[0]); i++)
        vmx_msr_register(&core_msrs[i]);
    vmx_exits_init();
    vmx_exit_stats_init();
    vmx_tsc_msrs_init();
    vmx_cpuid_tsc_init();
    vmx_mtrr_init();
    printf("vmx: controls pin %#x proc %#x proc2 %#x exit %#x entry %#x, eptp %#lx\n",
           controls.ctl[CTL_PIN], controls.ctl[CTL_PROC], controls.ctl[CTL_PROC2],
           controls.ctl[CTL_EXIT], controls.ctl[CTL_ENTRY], eptp);
    return true;
}

static bool enable_vmx_operation(void)
{
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK)) {
        /* Firmware left it unlocked: enable VMX outside SMX and lock, or
         * VMXON is #GP (SDM Vol. 3C, 23.7). */
        wrmsr(MSR_IA32_FEATURE_CONTROL,
              fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
        fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    }
    if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
        printf("vmx: cpu%u: IA32_FEATURE_CONTROL is locked with VMX disabled "
               "(enable VT-x in the firmware setup)\n", this_cpu_index());
        return false;
    }
    /* VMXON needs CR0 and CR4 within the fixed-bit MSRs, CR4.VMXE
     * included (SDM Vol. 3C, 23.8; Vol. 3D, A.7, A.8). */
    uint64_t cr0 = (read_cr0() | rdmsr(MSR_IA32_VMX_CR0_FIXED0)) & rdmsr(MSR_IA32_VMX_CR0_FIXED1);
    uint64_t cr4 = (read_cr4() | rdmsr(MSR_IA32_VMX_CR4_FIXED0)) & rdmsr(MSR_IA32_VMX_CR4_FIXED1);
    write_cr0(cr0);
    write_cr4(cr4 | CR4_VMXE);
    return true;
}

/* The host-state area: what every VM exit loads (SDM Vol. 3C, 24.5 and
 * 27.5), checked at each entry (26.2.2, 26.2.3). */
static void setup_host_state(struct vcpu *v)
{
    struct percpu *p = this_cpu();
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr, idtr;
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
    /* The hypervisor's own CR0/CR3/CR4, so an exit lands in its address
     * space with the VMX-fixed bits in place (26.2.2). */
    vmcs_write(HOST_CR0, read_cr0());
    vmcs_write(HOST_CR3, read_cr3());
    vmcs_write(HOST_CR4, read_cr4());
    /* Selectors with RPL and TI 0, CS and TR not null (26.2.3). */
    vmcs_write(HOST_CS_SEL, 0x08);
    vmcs_write(HOST_SS_SEL, 0x10);
    vmcs_write(HOST_DS_SEL, 0x10);
    vmcs_write(HOST_ES_SEL, 0x10);
    vmcs_write(HOST_FS_SEL, 0);
    vmcs_write(HOST_GS_SEL, 0);
    vmcs_write(HOST_TR_SEL, 0x18);
    vmcs_write(HOST_FS_BASE, 0);
    vmcs_write(HOST_GS_BASE, (uint64_t)p);      /* this_cpu() after an exit */
    vmcs_write(HOST_TR_BASE, (uint64_t)&p->tss);
    vmcs_write(HOST_GDTR_BASE, gdtr.base);
    vmcs_write(HOST_IDTR_BASE, idtr.base);
    /* No SYSENTER in the hypervisor; the fields are loaded anyway (27.5.1). */
    vmcs_write(HOST_SYSENTER_CS, 0);
    vmcs_write(HOST_SYSENTER_ESP, 0);
    vmcs_write(HOST_SYSENTER_EIP, 0);
    /* "Load IA32_EFER/PAT" exit controls are on: the host's values
     * (27.5.1); EFER.LMA/LME must match "host address-space size" (26.2.2). */
    vmcs_write(HOST_EFER, rdmsr(MSR_IA32_EFER));
    vmcs_write(HOST_PAT, rdmsr(MSR_IA32_PAT));
    /* Exits start at vmx_exit_entry on this CPU's own exit stack, whose top
     * slot holds the vcpu (RSP and RIP are loaded from here, 27.5.3). */
    uint64_t top = (uint64_t)v->exit_stack + EXIT_STACK_SIZE;
    *(uint64_t *)(top - 16) = (uint64_t)v;
    vmcs_write(HOST_RSP, top - 16);
    vmcs_write(HOST_RIP, (uint64_t)vmx_exit_entry);
}

/* The VM-execution, exit and entry controls (SDM Vol. 3C, 24.6-24.8),
 * computed once from the capability MSRs (controls.c). */
static void setup_controls(struct vcpu *v)
{
    vmcs_write(PIN_CONTROLS, controls.ctl[CTL_PIN]);
    vmcs_write(PROC_CONTROLS, controls.ctl[CTL_PROC]);
    vmcs_write(PROC_CONTROLS2, controls.ctl[CTL_PROC2]);
    vmcs_write(EXIT_CONTROLS, controls.ctl[CTL_EXIT]);
    /* The guest starts in real mode: "IA-32e mode guest" off until it
     * enables paging with EFER.LME (24.8.1; cr_access.c). */
    vmcs_write(ENTRY_CONTROLS, controls.ctl[CTL_ENTRY] & ~ENTRY_IA32E_GUEST);
    /* No exception exits (24.6.3): the guest handles its own faults;
     * the LAPIC step sets the bitmap for one instruction. */
    vmcs_write(EXCEPTION_BITMAP, 0);
    vmcs_write(PF_ERROR_MASK, 0);
    vmcs_write(PF_ERROR_MATCH, 0);
    /* CR3 loads never exit: no CR3-load exiting, no targets (24.6.7). */
    vmcs_write(CR3_TARGET_COUNT, 0);
    /* No MSR lists on exit or entry (24.7.2, 24.8.2). */
    vmcs_write(EXIT_MSR_STORE_COUNT, 0);
    vmcs_write(EXIT_MSR_LOAD_COUNT, 0);
    vmcs_write(ENTRY_MSR_LOAD_COUNT, 0);
    vmcs_write(ENTRY_INTR_INFO, 0);         /* nothing to inject yet (24.8.3) */
    vmcs_write(TSC_OFFSET, 0);              /* the guest starts on our clock (24.6.5) */
    /* With XSAVES enabled, XSAVES/XRSTORS exit for the XSS bits set here;
     * VMCLEAR leaves the field undefined: none (24.6.20, 25.1.3). */
    if (controls.ctl[CTL_PROC2] & PROC2_XSAVES)
        vmcs_write(XSS_EXIT_BITMAP, 0);
    /* Counts down in non-root operation and exits at zero (25.5.1). */
    if (controls.ctl[CTL_PIN] & PIN_PREEMPT_TIMER)
        vmcs_write(PREEMPTION_TIMER, v->timer_value = vmx_preemption_ticks());
    /* Physical addresses of 4 KiB-aligned pages (24.6.4, 24.6.9). */
    vmcs_write(MSR_BITMAP, (uint64_t)msr_bitmap);
    vmcs_write(IO_BITMAP_A, (uint64_t)io_bitmaps);
    vmcs_write(IO_BITMAP_B, (uint64_t)io_bitmaps + PAGE_SIZE);
    vmcs_write(EPT_POINTER, eptp);          /* 24.6.11; vapic gives each CPU its own */
    /* VPID 0 is reserved for the host: "enable VPID" needs a non-zero one
     * (26.2.1.1); one per CPU keeps their TLB entries apart (28.1). */
    vmcs_write(VPID, v->index + 1);
    /* No shadow VMCS: the link pointer must be all ones (26.3.1.5). */
    vmcs_write(VMCS_LINK_PTR, ~0ull);
    /* CR0/CR4 bits the CPU forces in VMX operation (23.8) are owned by
     * us: guest writes to them exit, reads see the read shadows (24.6.6).
     * PE and PG are free for an unrestricted guest (26.3.1.1). */
    uint64_t cr0_fixed = (rdmsr(MSR_IA32_VMX_CR0_FIXED0) | ~rdmsr(MSR_IA32_VMX_CR0_FIXED1)) &
                         ~(CR0_PE | CR0_PG);
    uint64_t cr4_fixed = rdmsr(MSR_IA32_VMX_CR4_FIXED0) | ~rdmsr(MSR_IA32_VMX_CR4_FIXED1) | CR4_VMXE;
    vmcs_write(CR0_GUEST_HOST_MASK, cr0_fixed);
    vmcs_write(CR4_GUEST_HOST_MASK, cr4_fixed);
}

bool vmx_cpu_init(void)
{
    struct percpu *p = this_cpu();
    struct vcpu *v = &vcpus[p->index];
    v->index = p->index;
    if (!enable_vmx_operation())
        return false;
    /* VMXON region and VMCS start with the revision identifier
     * (IA32_VMX_BASIC[30:0], Vol. 3D A.1; 24.2), in 4 KiB pages. */
    uint32_t revision = rdmsr(MSR_IA32_VMX_BASIC) & 0x7fffffff;
    uint32_t *vmxon = pmm_alloc_pages(1), *vmcs = pmm_alloc_pages(1);
    v->exit_stack = pmm_alloc_pages(EXIT_STACK_SIZE / PAGE_SIZE);
    if (!vmxon || !vmcs || !v->exit_stack) {
        printf("vmx: cpu%u: out of pages\n", p->index);
        return false;
    }
    p->exit_stack_base = v->exit_stack;
    vmxon[0] = revision;
    vmcs[0] = revision;
    v->vmxon_phys = (uint64_t)vmxon;
    v->vmcs_phys = (uint64_t)vmcs;
    int st = vmx_on(v->vmxon_phys);
    if (st) {
        printf("vmx: cpu%u: VMXON failed (%s)\n", p->index,
               st == 1 ? "VMfailInvalid" : "VMfailValid");
        return false;
    }
    /* VMCLEAR puts the VMCS in the clear state, so the first entry is a
     * VMLAUNCH; VMPTRLD makes it current for the VMWRITEs below (24.1). */
    if ((st = vmx_vmclear(v->vmcs_phys)) || (st = vmx_vmptrld(v->vmcs_phys))) {
        printf("vmx: cpu%u: VMCLEAR/VMPTRLD failed: %s\n", p->index, vmx_error_text(st));
        return false;
    }
    setup_host_state(v);
    setup_controls(v);
    printf("vmx: cpu%u in VMX root operation, VMCS at %#lx\n", p->index, v->vmcs_phys);
    return true;
}
