/* VM exit dispatch and the simple handlers. An exit without a handler is
 * reported by name with the guest's state: never skipped silently. */
#include <string.h>
#include <hvabi.h>
#include <console.h>
#include <percpu.h>
#include <trace.h>
#include <x86.h>
#include "cpu/exception.h"
#include "vmx/controls.h"
#include "vmx/ept.h"
#include "vmx/exit.h"
#include "vmx/guest_start.h"
#include "vmx/guest_uart.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"
#include "nmi/nmi.h"
#include "vapic/vapic.h"


void guest_advance_rip(void)
{
    vmcs_write(GUEST_RIP, vmcs_read(GUEST_RIP) + vmcs_read(EXIT_INSN_LEN));
    /* An instruction completed: STI/MOV SS blocking ends with it. */
    vmcs_write(GUEST_INTERRUPTIBILITY, vmcs_read(GUEST_INTERRUPTIBILITY) & ~3u);
}

void guest_inject_exception(uint8_t vector, bool has_error, uint32_t error)
{
    /* Real mode has no error codes. */
    if (!(vmcs_read(GUEST_CR0) & 1))
        has_error = false;
    uint32_t info = vector | (3u << 8) | (1u << 31) | (has_error ? 1u << 11 : 0);
    vmcs_write(ENTRY_INTR_INFO, info);
    if (has_error)
        vmcs_write(ENTRY_EXC_ERROR, error);
}

bool guest_ram_ok(uint64_t gpa, uint64_t len)
{
    if (len == 0 || gpa + len < gpa)
        return false;
    for (uint32_t i = 0; i < guest_e820.count; i++) {
        const struct e820_entry *e = &guest_e820.e[i];
        if (e->type == 1 && gpa >= e->addr && gpa + len <= e->addr + e->len)
            return true;
    }
    return false;
}

static void print_guest_state(struct vcpu *v)
{
    printf("  guest rip %#lx rsp %#lx rflags %#lx cs %#x (base %#lx)\n",
           vmcs_read(GUEST_RIP), vmcs_read(GUEST_RSP), vmcs_read(GUEST_RFLAGS),
           vmcs_read(GUEST_CS_SEL), vmcs_read(GUEST_CS_BASE));
    printf("  guest cr0 %#lx cr3 %#lx cr4 %#lx efer %#lx\n", vmcs_read(GUEST_CR0),
           vmcs_read(GUEST_CR3), vmcs_read(GUEST_CR4), vmcs_read(GUEST_EFER));
    printf("  guest rax %#lx rbx %#lx rcx %#lx rdx %#lx rsi %#lx rdi %#lx\n",
           v->regs.rax, v->regs.rbx, v->regs.rcx, v->regs.rdx, v->regs.rsi, v->regs.rdi);
}

void exit_unhandled(struct vcpu *v, const char *why)
{
    uint32_t reason = vmcs_read(EXIT_REASON);
    const char *name = catalog_exit_name(reason & 0xffff);
    printf("FATAL cpu%u: %s: exit reason %u (%s), qualification %#lx\n", v->index, why,
           reason & 0xffff, name ? name : "?", vmcs_read(EXIT_QUALIFICATION));
    print_guest_state(v);
    cpu_park();
}

static void handle_cpuid(struct vcpu *v)
{
    uint32_t leaf = v->regs.rax, sub = v->regs.rcx;
    struct cpuid_regs r = cpuid(leaf, sub);
    uint32_t proc2 = vmx_controls.ctl[CTL_PROC2];
    if (leaf == 7 && sub == 0 && !(proc2 & PROC2_INVPCID))
        r.ebx &= ~(1u << 10);                   /* INVPCID would #UD */
    if (leaf == 0x80000001 && !(proc2 & PROC2_RDTSCP))
        r.edx &= ~(1u << 27);                   /* RDTSCP would #UD */
    if (leaf == 0xd && sub == 1 && !(proc2 & PROC2_XSAVES))
        r.eax &= ~(1u << 3);                    /* XSAVES would #UD */
    if (x2apic_hint_cpuid(leaf, &r.eax, &r.ebx, &r.ecx, &r.edx)) {
        /* answered whole: the x2APIC hint's leaves */
    } else if (leaf == 1) {
        r.ecx |= HVABI_CPUID1_ECX_HYPERVISOR;
        r.ecx &= ~HVABI_CPUID1_ECX_VMX;         /* VMX is not offered */
    } else if (leaf == HVABI_CPUID_VENDOR_LEAF) {
        r = (struct cpuid_regs){ HVABI_CPUID_MAX_LEAF, HVABI_SIG_EBX, HVABI_SIG_ECX,
                                 HVABI_SIG_EDX };
    } else if (leaf == HVABI_CPUID_VERSION_LEAF) {
        r = (struct cpuid_regs){ HVABI_VERSION, 0, 0, 0 };
    }
    v->regs.rax = r.eax;
    v->regs.rbx = r.ebx;
    v->regs.rcx = r.ecx;
    v->regs.rdx = r.edx;
    guest_advance_rip();
}

/* Only the MSRs in the bitmap exit: feature control, the VMX MSRs, and
 * writes to the x2APIC ICR and IA32_APIC_BASE (vapic). */
static void handle_msr(struct vcpu *v, bool write)
{
    uint32_t msr = v->regs.rcx;
    if (write && vapic_wrmsr(v, msr, (v->regs.rdx << 32) | (uint32_t)v->regs.rax))
        return;
    if (!write && msr == HVABI_MSR_FEATURE_CONTROL) {
        v->regs.rax = HVABI_FC_LOCK;    /* locked, VMX off: as without VT-x */
        v->regs.rdx = 0;
        guest_advance_rip();
        return;
    }
    guest_inject_exception(13, true, 0);    /* #GP, as without VMX */
}

static void handle_xsetbv(struct vcpu *v)
{
    uint64_t value = (v->regs.rdx << 32) | (uint32_t)v->regs.rax;
    struct cpuid_regs d = cpuid(0xd, 0);
    uint64_t supported = ((uint64_t)d.edx << 32) | d.eax;
    if (v->regs.rcx != 0 || !(value & 1) || (value & ~supported) ||
        ((value & 4) && !(value & 2))) {
        guest_inject_exception(13, true, 0);
        return;
    }
    write_cr4(read_cr4() | (1ull << 18));   /* OSXSAVE, so we may execute it */
    __asm__ volatile("xsetbv" :: "a"((uint32_t)value), "d"((uint32_t)(value >> 32)), "c"(0));
    guest_advance_rip();
}

static void handle_ept_violation(struct vcpu *v)
{
    uint64_t gpa = vmcs_read(GUEST_PHYS_ADDR), qual = vmcs_read(EXIT_QUALIFICATION);
    uint64_t rip = vmcs_read(GUEST_RIP);
    if (vapic_ept_violation(v, gpa, qual))
        return;     /* the guest's LAPIC page: single-stepped (not traced) */
    trace_event(TEV_EPT_VIOLATION, gpa, qual, rip);
    if (ept_in_footprint(gpa)) {
        /* Contained: the guest gets #GP, the hypervisor carries on. */
        printf("guest cpu%u: %s of hypervisor memory at %#lx refused (guest rip %#lx); "
               "#GP injected\n", v->index, qual & 2 ? "write" : qual & 4 ? "fetch" : "read",
               gpa, rip);
        guest_inject_exception(13, true, 0);
        return;
    }
    printf("guest cpu%u: EPT violation at %#lx (qualification %#lx) outside the "
           "hypervisor's memory\n", v->index, gpa, qual);
    exit_unhandled(v, "unexpected EPT violation");
}

/* Exit reason 0: an NMI (classified by hv/nmi) or an exception the
 * exception bitmap asked for (only while a LAPIC access is stepped). */
static void handle_exception_nmi(struct vcpu *v)
{
    uint32_t info = vmcs_read(EXIT_INTR_INFO);
    if (((info >> 8) & 7) == 2) {
        nmi_exit(v);
        return;
    }
    exit_unhandled(v, "guest exception with no handler (exception bitmap is empty)");
}


/* IN/OUT to an intercepted port: only the guest's COM1 is in the bitmap. */
static void handle_io(struct vcpu *v)
{
    uint64_t q = vmcs_read(EXIT_QUALIFICATION);
    unsigned size = (q & 7) + 1;
    bool in = q & 8, string = q & 16;
    uint16_t port = q >> 16;
    if (port < GUEST_UART_BASE || port >= GUEST_UART_BASE + GUEST_UART_PORTS)
        exit_unhandled(v, "I/O exit for a port that is not intercepted");
    if (string) {
        /* INS/OUTS would need the guest's page tables; no known console
         * driver uses them on a UART. Refused loudly, guest kept running. */
        printf("guest cpu%u: string I/O to port %#x not emulated; skipped\n", v->index, port);
        guest_advance_rip();
        return;
    }
    if (in) {
        uint32_t val = guest_uart_in(port);
        uint64_t mask = size == 4 ? 0xffffffffull : (1ull << (size * 8)) - 1;
        /* A 32-bit IN zero-extends into RAX; 8/16-bit ones merge. */
        v->regs.rax = size == 4 ? val : (v->regs.rax & ~mask) | (val & mask);
    } else {
        guest_uart_out(port, (uint8_t)v->regs.rax);
    }
    guest_advance_rip();
}

void vmx_print_exit_stats(void)
{
    for (uint32_t cpu = 0; cpu < cpu_count; cpu++) {
        const struct vcpu *v = &vcpus[cpu];
        const char *last = catalog_exit_name(v->last_reason);
        printf("exit stats cpu%u: total %lu\n", cpu, v->exits);
        if (v->exits)
            printf("exit stats cpu%u: last exit %s at guest rip %#lx rflags %#lx cr0 %#lx\n",
                   cpu, last ? last : "?", v->last_rip, v->last_rflags, v->last_cr0);
        for (unsigned r = 0; r < sizeof(v->exit_count) / sizeof(v->exit_count[0]); r++)
            if (v->exit_count[r]) {
                const char *name = catalog_exit_name(r);
                printf("exit stats cpu%u: %s %lu\n", cpu, name ? name : "?", v->exit_count[r]);
            }
        for (unsigned mode = 0; mode < 2; mode++)
            for (unsigned r = 0; r < 0x40; r++)
                if (v->lapic_exits[mode][r])
                    printf("lapic exits cpu%u: %s reg %#05x %lu\n", cpu,
                           mode ? "x2apic" : "xapic", r << 4, v->lapic_exits[mode][r]);
    }
    printf("exit stats: end\n");  /* a reader knows the dump is whole */
}

/* The end of every exit that resumes the guest. */
static void before_entry(struct vcpu *v)
{
    if (__atomic_load_n(&v->run_state, __ATOMIC_ACQUIRE) == GUEST_RESETTING)
        vapic_reset_ap(v);      /* the guest sent this CPU an INIT */
    console_kick();
    nmi_before_entry(v);
    vapic_mtf_probe_arm(v);
}

void vmx_exit_handler(struct vcpu *v)
{
    uint32_t reason = vmcs_read(EXIT_REASON);
    uint32_t basic = reason & 0xffff;
    v->exits++;
    v->last_reason = basic;
    v->last_rip = vmcs_read(GUEST_RIP);
    v->last_rflags = vmcs_read(GUEST_RFLAGS);
    v->last_cr0 = vmcs_read(GUEST_CR0);
    if (basic < sizeof(v->exit_count) / sizeof(v->exit_count[0]))
        v->exit_count[basic]++;
    /* Housekeeping timer exits are counted but not traced: at 20 per
     * second they would only crowd the line. */
    if (basic != VMX_EXIT_PREEMPTION_TIMER)
        trace_event(TEV_VMEXIT, basic, vmcs_read(GUEST_RIP));
    if (reason & (1u << 31))
        vmx_entry_failure_exit(reason, vmcs_read(EXIT_QUALIFICATION));
    nmi_after_exit(v);
    uint32_t vect = vectoring_exit_begin();
    if ((v->mtf_probe.armed && vapic_mtf_probe_exit(v, basic)) ||
        (v->step.active && vapic_step_exit(v, basic))) {
        vectoring_exit_end(v, basic, vect, v->last_rip);
        before_entry(v);
        return;
    }

    switch (basic) {
    case VMX_EXIT_EXCEPTION_NMI: handle_exception_nmi(v); break;
    case VMX_EXIT_CPUID:        handle_cpuid(v); break;
    case VMX_EXIT_VMCALL:       handle_vmcall(v); break;
    case VMX_EXIT_CR_ACCESS:    handle_cr_access(v); break;
    case VMX_EXIT_RDMSR:        handle_msr(v, false); break;
    case VMX_EXIT_WRMSR:        handle_msr(v, true); break;
    case VMX_EXIT_XSETBV:       handle_xsetbv(v); break;
    case VMX_EXIT_IO_INSTRUCTION: handle_io(v); break;
    case VMX_EXIT_PREEMPTION_TIMER:
        break;      /* its job: the console_kick below (drain, host commands) */
    case VMX_EXIT_INVD:
        __asm__ volatile("wbinvd" ::: "memory");    /* never drop dirty lines */
        guest_advance_rip();
        break;
    case VMX_EXIT_EPT_VIOLATION: handle_ept_violation(v); break;
    case VMX_EXIT_NMI_WINDOW:   nmi_window_exit(v); break;
    case VMX_EXIT_INIT:         vapic_reset_ap(v);
    case VMX_EXIT_TRIPLE_FAULT: exit_unhandled(v, "guest triple fault");
    case VMX_EXIT_EPT_MISCONFIG: exit_unhandled(v, "EPT misconfiguration (hypervisor bug)");
    default:                    exit_unhandled(v, "exit without a handler");
    }
    vectoring_exit_end(v, basic, vect, v->last_rip);
    before_entry(v);
}
