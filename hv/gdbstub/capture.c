/* What a stopping CPU records of itself (only it can read its control and
 * debug registers and VMREAD its VMCS), and what it writes back when gdb
 * lets it go. */
#include <x86.h>
#include "gdbstub/debugregs.h"
#include "gdbstub/stub_internal.h"
#include "nmi/nmi.h"
#include "vmx/vcpu.h"
#include "vmx/vmcs.h"

/* The guest's state lives in this CPU's VMCS while it is in an exit; a CPU
 * that never started its guest (an AP before its SIPI) has none. */
static void capture_guest(struct guest_snapshot *g, struct vcpu *v)
{
    g->valid = v->launched && v->run_state == GUEST_RUNNING;
    g->dirty = false;
    if (!g->valid)
        return;
    g->rip = vmcs_read(GUEST_RIP);
    g->rsp = vmcs_read(GUEST_RSP);
    g->rflags = vmcs_read(GUEST_RFLAGS);
    g->cr0 = vmcs_read(GUEST_CR0);
    g->cr3 = vmcs_read(GUEST_CR3);
    g->cr4 = vmcs_read(GUEST_CR4);
    g->efer = vmcs_read(GUEST_EFER);
    g->fs_base = vmcs_read(GUEST_FS_BASE);
    g->gs_base = vmcs_read(GUEST_GS_BASE);
    g->dr7 = vmcs_read(GUEST_DR7);
    g->sel[0] = vmcs_read(GUEST_CS_SEL);
    g->sel[1] = vmcs_read(GUEST_SS_SEL);
    g->sel[2] = vmcs_read(GUEST_DS_SEL);
    g->sel[3] = vmcs_read(GUEST_ES_SEL);
    g->sel[4] = vmcs_read(GUEST_FS_SEL);
    g->sel[5] = vmcs_read(GUEST_GS_SEL);
    guest_paging_current(&g->paging);
    g->paging.any_rights = true;    /* gdb reads what the kernel could map */
}

void gdb_capture(struct gdb_cpu *c)
{
    struct hv_sysregs *s = &c->sys;
    struct vcpu *v = &vcpus[this_cpu_index()];
    s->cr0 = read_cr0();
    s->cr2 = read_cr2();
    s->cr3 = read_cr3();
    s->cr4 = read_cr4();
    __asm__ volatile("mov %%cr8, %0" : "=r"(s->cr8));
    s->efer = rdmsr(MSR_IA32_EFER);
    s->fs_base = rdmsr(MSR_IA32_FS_BASE);
    s->gs_base = rdmsr(MSR_IA32_GS_BASE);
    for (int i = 0; i < 8; i++)
        s->dr[i] = (i == 4 || i == 5) ? 0 : read_dr(i);
    c->stop_tsc = rdtsc();
    c->depth++;
    __atomic_store_n(&v->debug_stopped, true, __ATOMIC_SEQ_CST);
    capture_guest(&c->guest, v);
}

static void write_guest(const struct guest_snapshot *g)
{
    vmcs_write(GUEST_RIP, g->rip);
    vmcs_write(GUEST_RSP, g->rsp);
    vmcs_write(GUEST_RFLAGS, g->rflags);
}

void gdb_writeback(struct gdb_cpu *c)
{
    struct vcpu *v = &vcpus[this_cpu_index()];
    if (c->guest.valid && c->guest.dirty)
        write_guest(&c->guest);
    c->guest.dirty = false;
    gdb_dr_load();
    if (--c->depth)
        return;         /* an outer stop on this CPU is still going on */
    __atomic_store_n(&v->debug_stopped, false, __ATOMIC_SEQ_CST);
    if (v->vmcs_phys)
        quiesce_settle_owed(v);
}
