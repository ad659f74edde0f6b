/* Registers as gdb numbers them (rsp_regs.def), from where a stopped CPU
 * keeps them: the hypervisor view is its trap frame (or the frame made
 * where it stopped outside a trap: then only the registers that frame
 * really holds) and the system registers it captured; the guest view
 * (`monitor guest`) is its saved general registers and the VMCS snapshot.
 * What is not known is reported unavailable, never made up. */
#include <string.h>
#include <percpu.h>
#include "gdbstub/stub_internal.h"
#include "vmx/vcpu.h"

/* Where a general register lives: the trap frame and the guest's save area. */
static uint64_t *frame_gpr(struct regs *f, enum rsp_reg reg)
{
    switch (reg) {
    case RSP_REG_rax: return &f->rax;  case RSP_REG_rbx: return &f->rbx;
    case RSP_REG_rcx: return &f->rcx;  case RSP_REG_rdx: return &f->rdx;
    case RSP_REG_rsi: return &f->rsi;  case RSP_REG_rdi: return &f->rdi;
    case RSP_REG_rbp: return &f->rbp;  case RSP_REG_rsp: return &f->rsp;
    case RSP_REG_r8: return &f->r8;    case RSP_REG_r9: return &f->r9;
    case RSP_REG_r10: return &f->r10;  case RSP_REG_r11: return &f->r11;
    case RSP_REG_r12: return &f->r12;  case RSP_REG_r13: return &f->r13;
    case RSP_REG_r14: return &f->r14;  case RSP_REG_r15: return &f->r15;
    case RSP_REG_rip: return &f->rip;  case RSP_REG_eflags: return &f->rflags;
    case RSP_REG_cs: return &f->cs;    case RSP_REG_ss: return &f->ss;
    default: return NULL;
    }
}

/* The registers a frame made outside a trap holds (gdb_capture_here). */
static bool synth_has(enum rsp_reg reg)
{
    return reg == RSP_REG_rip || reg == RSP_REG_rsp || reg == RSP_REG_rbp ||
           reg == RSP_REG_rbx || (reg >= RSP_REG_r12 && reg <= RSP_REG_r15) ||
           reg == RSP_REG_cs || reg == RSP_REG_ss || reg == RSP_REG_eflags;
}

static uint64_t *guest_gpr(struct vcpu *v, struct guest_snapshot *g, enum rsp_reg reg)
{
    struct guest_regs *r = &v->regs;
    switch (reg) {
    case RSP_REG_rax: return &r->rax;  case RSP_REG_rbx: return &r->rbx;
    case RSP_REG_rcx: return &r->rcx;  case RSP_REG_rdx: return &r->rdx;
    case RSP_REG_rsi: return &r->rsi;  case RSP_REG_rdi: return &r->rdi;
    case RSP_REG_rbp: return &r->rbp;  case RSP_REG_rsp: return &g->rsp;
    case RSP_REG_r8: return &r->r8;    case RSP_REG_r9: return &r->r9;
    case RSP_REG_r10: return &r->r10;  case RSP_REG_r11: return &r->r11;
    case RSP_REG_r12: return &r->r12;  case RSP_REG_r13: return &r->r13;
    case RSP_REG_r14: return &r->r14;  case RSP_REG_r15: return &r->r15;
    case RSP_REG_rip: return &g->rip;  case RSP_REG_eflags: return &g->rflags;
    default: return NULL;
    }
}

static bool sys_value(const struct gdb_cpu *c, enum rsp_reg reg, uint64_t *x)
{
    const struct hv_sysregs *s = &c->sys;
    switch (reg) {
    case RSP_REG_fs_base: *x = s->fs_base; return true;
    case RSP_REG_gs_base: *x = s->gs_base; return true;
    case RSP_REG_cr0: *x = s->cr0; return true;
    case RSP_REG_cr2: *x = s->cr2; return true;
    case RSP_REG_cr3: *x = s->cr3; return true;
    case RSP_REG_cr4: *x = s->cr4; return true;
    case RSP_REG_cr8: *x = s->cr8; return true;
    case RSP_REG_efer: *x = s->efer; return true;
    case RSP_REG_dr0: case RSP_REG_dr1: case RSP_REG_dr2: case RSP_REG_dr3:
        *x = s->dr[reg - RSP_REG_dr0]; return true;
    case RSP_REG_dr6: *x = s->dr[6]; return true;
    case RSP_REG_dr7: *x = s->dr[7]; return true;
    default: return false;
    }
}

/* The guest's system registers: the VMCS snapshot; CR2, DR0-DR3 and DR6
 * are not switched by VM exits (SDM Vol. 3C, 27.5), so the captured live
 * values are the guest's (DR0-DR3 unless the stub's own are loaded). */
static bool guest_sys_value(const struct gdb_cpu *c, enum rsp_reg reg, uint64_t *x)
{
    const struct guest_snapshot *g = &c->guest;
    switch (reg) {
    case RSP_REG_cs: case RSP_REG_ss: case RSP_REG_ds:
    case RSP_REG_es: case RSP_REG_fs: case RSP_REG_gs:
        *x = g->sel[reg - RSP_REG_cs]; return true;
    case RSP_REG_fs_base: *x = g->fs_base; return true;
    case RSP_REG_gs_base: *x = g->gs_base; return true;
    case RSP_REG_cr0: *x = g->cr0; return true;
    case RSP_REG_cr2: *x = c->sys.cr2; return true;
    case RSP_REG_cr3: *x = g->cr3; return true;
    case RSP_REG_cr4: *x = g->cr4; return true;
    case RSP_REG_efer: *x = g->efer; return true;
    case RSP_REG_dr0: case RSP_REG_dr1: case RSP_REG_dr2: case RSP_REG_dr3:
        *x = c->guest_dr_saved ? c->guest_dr[reg - RSP_REG_dr0] : c->sys.dr[reg - RSP_REG_dr0];
        return true;
    case RSP_REG_dr6: *x = c->sys.dr[6]; return true;
    case RSP_REG_dr7: *x = g->dr7; return true;
    default: return false;
    }
}

static struct gdb_cpu *stopped_cpu(int tid)
{
    if (tid < 1 || tid > (int)cpu_count || !gdb_cpu_is_stopped(tid - 1))
        return NULL;
    return &gdb_cpus[tid - 1];
}

int gdb_read_reg(void *ctx, int tid, enum rsp_reg reg, uint8_t *val)
{
    struct gdb_cpu *c = stopped_cpu(tid);
    if (!c || reg >= RSP_NREGS)
        return RSP_UNSUPPORTED;
    uint64_t x, *p;
    if (gdb.view_guest) {
        if (!c->guest.valid)
            return RSP_UNSUPPORTED;
        p = guest_gpr(&vcpus[tid - 1], &c->guest, reg);
        if (p)
            x = *p;
        else if (!guest_sys_value(c, reg, &x))
            return RSP_UNSUPPORTED;
    } else {
        p = frame_gpr(c->frame, reg);
        if (p && (c->trap_frame || synth_has(reg)))
            x = *p;
        else if (!sys_value(c, reg, &x))
            return RSP_UNSUPPORTED;
    }
    memcpy(val, &x, rsp_regs[reg].bits / 8);
    return 0;
}

int gdb_write_reg(void *ctx, int tid, enum rsp_reg reg, const uint8_t *val)
{
    struct gdb_cpu *c = stopped_cpu(tid);
    if (!c || reg >= RSP_NREGS)
        return 22;
    uint64_t x = 0, *p;
    unsigned bytes = rsp_regs[reg].bits / 8;
    if (bytes > 8)
        return 22;
    memcpy(&x, val, bytes);
    if (gdb.view_guest) {
        if (!c->guest.valid || !(p = guest_gpr(&vcpus[tid - 1], &c->guest, reg)))
            return 22;
        c->guest.dirty = true;      /* RIP/RSP/RFLAGS go back to the VMCS on release */
    } else {
        if (!c->trap_frame || !(p = frame_gpr(c->frame, reg)) ||
            reg == RSP_REG_cs || reg == RSP_REG_ss)
            return 22;
    }
    if (bytes < 8)
        x |= *p & ~((1ull << (bytes * 8)) - 1);
    *p = x;
    return 0;
}
