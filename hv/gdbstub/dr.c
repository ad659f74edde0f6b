/* The hypervisor's hardware breakpoints and watchpoints: DR0-DR3 with DR7,
 * the same on every CPU (each loads them when gdb releases it). The
 * guest's debug registers keep working: a VM exit saves the guest's DR7
 * in the VMCS and sets DR7 to 0x400 (SDM Vol. 3C, 27.3.1 and 27.5.1, with
 * the "save debug controls" exit control), and VM entry loads it back
 * (26.3.2.1, "load debug controls"), but DR0-DR3 and DR6 are not switched
 * by VMX at all. So while gdb has any of them set, every exit saves the
 * guest's DR0-DR3 and loads the hypervisor's with its DR7, and every entry
 * disables them (DR7 = 0x400) and puts the guest's DR0-DR3 back. With
 * none set, nothing is touched and exits cost nothing more. */
#include <percpu.h>
#include "gdbstub/debugregs.h"
#include "gdbstub/stub_internal.h"
#include "vmx/exit_table.h"
#include "vmx/vcpu.h"

#define DR7_FIXED 0x400ull

static struct { bool used; enum rsp_bp_type type; uint64_t addr; uint32_t len; } slot[4];
static uint64_t dr7_value = DR7_FIXED;
static volatile bool active;

/* DR7 (SDM Vol. 3B, 18.2.4): G0-G3 enable, R/W0-3 at 16+4n (00 execute,
 * 01 write, 11 read/write; x86 has no read-only watch, so Z3 is 11 and
 * reported as rwatch), LEN0-3 at 18+4n (00 1, 01 2, 11 4, 10 8 bytes). */
static void compose_dr7(void)
{
    uint64_t v = DR7_FIXED;
    bool any = false;
    for (int n = 0; n < 4; n++) {
        if (!slot[n].used)
            continue;
        uint64_t rw = slot[n].type == RSP_BP_HW ? 0 : slot[n].type == RSP_BP_WRITE ? 1 : 3;
        uint64_t len = slot[n].type == RSP_BP_HW ? 0 :
                       slot[n].len == 1 ? 0 : slot[n].len == 2 ? 1 : slot[n].len == 8 ? 2 : 3;
        v |= (2ull << (2 * n)) | (rw << (16 + 4 * n)) | (len << (18 + 4 * n));
        any = true;
    }
    dr7_value = v;
    active = any;
}

int gdb_dr_set(bool insert, enum rsp_bp_type type, uint64_t addr, uint32_t len)
{
    if (type == RSP_BP_HW)
        len = 1;
    else if ((len != 1 && len != 2 && len != 4 && len != 8) || (addr & (len - 1)))
        return 22;      /* the hardware watches aligned 1/2/4/8 bytes only */
    for (int n = 0; n < 4; n++)
        if (slot[n].used == !insert && (!insert ? slot[n].type == type && slot[n].addr == addr
                                                 : true)) {
            if (insert)
                slot[n] = (typeof(slot[0])){ true, type, addr, len };
            else
                slot[n].used = false;
            compose_dr7();
            return 0;
        }
    return insert ? 28 : 22;    /* ENOSPC: all four in use */
}

void gdb_dr_clear(void)
{
    for (int n = 0; n < 4; n++)
        slot[n].used = false;
    compose_dr7();
}

static void load_hv_set(struct gdb_cpu *c, struct vcpu *v)
{
    if (v->launched && !c->guest_dr_saved) {
        for (int n = 0; n < 4; n++)
            c->guest_dr[n] = read_dr(n);
        c->guest_dr_saved = true;
    }
    for (int n = 0; n < 4; n++)
        write_dr(n, slot[n].addr);
    write_dr(7, dr7_value);
}

void gdb_dr_load(void)
{
    struct gdb_cpu *c = &gdb_cpus[this_cpu_index()];
    struct vcpu *v = &vcpus[this_cpu_index()];
    /* Stopped between the entry's restore and the VM entry itself (the stop
     * NMI can land there): the guest's DR0-DR3 are in place for the entry
     * and stay; loading ours now would send the guest in with them (its
     * own breakpoint would miss once). Ours come back at the next exit. */
    if (c->guest_dr_live)
        return;
    if (active)
        load_hv_set(c, v);
    else
        write_dr(7, DR7_FIXED);     /* the guest's DR0-DR3, if saved, go back at entry */
}

static void after_exit(struct vcpu *v)
{
    gdb_cpus[v->index].guest_dr_live = false;
    if (active)
        load_hv_set(&gdb_cpus[v->index], v);
}

static void before_entry(struct vcpu *v)
{
    struct gdb_cpu *c = &gdb_cpus[v->index];
    if (c->guest_dr_saved) {
        write_dr(7, DR7_FIXED);     /* first: no hypervisor watch on guest addresses */
        for (int n = 0; n < 4; n++)
            write_dr(n, c->guest_dr[n]);
        c->guest_dr_saved = false;
    }
    c->guest_dr_live = true;        /* until the next exit (gdb_dr_load) */
}

bool gdb_dr_hit(struct rsp_stop *why, bool *exec_bp, bool *stale)
{
    uint64_t dr6 = read_dr(6);
    *stale = false;
    for (int n = 0; n < 4; n++) {
        if (!(dr6 & (1ull << n)))
            continue;
        if (!slot[n].used) {
            /* gdb removed it between the hit and this handler (the CPU was
             * parked in between): ours, but nothing to report. */
            write_dr(6, dr6 & ~(1ull << n));
            *stale = true;
            continue;
        }
        write_dr(6, dr6 & ~(1ull << n));
        *exec_bp = slot[n].type == RSP_BP_HW;
        static const enum rsp_stop_reason reason[] = {
            [RSP_BP_HW] = RSP_STOP_HWBREAK, [RSP_BP_WRITE] = RSP_STOP_WATCH,
            [RSP_BP_READ] = RSP_STOP_RWATCH, [RSP_BP_ACCESS] = RSP_STOP_AWATCH };
        *why = (struct rsp_stop){ .signal = 5, .reason = reason[slot[n].type],
                                  .addr = slot[n].addr };
        return true;
    }
    return false;
}

void gdb_dr_init(void)
{
    vmx_after_exit_register(after_exit);
    /* COMMIT: the last stage before the entry; registered before nmi's. */
    vmx_before_entry_register(ENTRY_STAGE_COMMIT, before_entry);
}
