/* VMCALL: the INT 15h hook (a VMCALL from the hook's stub) and the
 * hypercall ABI of abi/hvabi.h (shared with the test guest), dispatched by
 * EAX. Bad arguments get an error code, never a crash. */
#include <string.h>
#include <hvabi.h>
#include "console/console.h"
#include "mem/pmm.h"
#include "trace/trace.h"
#include <x86.h>
#include "vmx/exit.h"
#include "vmx/exit_table.h"
#include "vmx/handlers.h"
#include "vmx/hook_list.h"
#include "vmx/refuse.h"
#include <percpu.h>
#include "vmx/guest_start.h"
#include "vmx/vmcs.h"

#define SMAP            0x534d4150u     /* "SMAP" */

static uint64_t guest_linear(uint64_t seg_base, uint64_t off) { return seg_base + off; }

/* The guest's FLAGS image in the INT 15h frame on its stack: IP, CS, FLAGS.
 * The guest chose SS and SP: only ordinary guest RAM is written, never an
 * address the EPT would have refused it (the hypervisor, MMIO). */
static uint16_t *int_frame_flags(struct vcpu *v)
{
    uint64_t sp = vmcs_read(GUEST_RSP) & 0xffff;
    uint64_t a = guest_linear(vmcs_read(GUEST_SS_BASE), sp + 4);
    if (guest_ram_ok(a, 2))
        return phys_ptr(a);
    guest_refused(v, REFUSE_GUEST_ADDRESS, a, "INT 15h frame at %#lx is not guest RAM; "
                  "its FLAGS left alone", a);
    static uint16_t discard[MAX_CPUS];
    return &discard[v->index];
}

static void int15_e820(struct vcpu *v)
{
    uint16_t *flags = int_frame_flags(v);
    uint32_t index = v->regs.rbx;
    if ((uint32_t)v->regs.rdx != SMAP || index >= guest_e820.count ||
        (uint32_t)v->regs.rcx < 20) {
        *flags |= 1;        /* CF: error / end */
        return;
    }
    uint64_t buf = guest_linear(vmcs_read(GUEST_ES_BASE), v->regs.rdi & 0xffff);
    if (!guest_ram_ok(buf, 20)) {
        *flags |= 1;
        return;
    }
    const struct e820_entry *e = &guest_e820.e[index];
    memcpy(phys_ptr(buf), &e->addr, 8);
    memcpy(phys_ptr(buf + 8), &e->len, 8);
    memcpy(phys_ptr(buf + 16), &e->type, 4);
    v->regs.rax = SMAP;
    v->regs.rcx = 20;
    v->regs.rbx = index + 1 < guest_e820.count ? index + 1 : 0;
    *flags &= ~1;
}

static void int15_hook_call(struct vcpu *v)
{
    if ((v->regs.rax & 0xffff) == 0xe820) {
        int15_e820(v);
        guest_advance_rip();            /* on to the stub's IRET */
        return;
    }
    /* Anything else goes to the BIOS: jump to the original vector with the
     * caller's interrupt frame still on the stack; its IRET returns there. */
    vmcs_write(GUEST_CS_SEL, int15_hook.orig_seg);
    vmcs_write(GUEST_CS_BASE, (uint64_t)int15_hook.orig_seg << 4);
    vmcs_write(GUEST_RIP, int15_hook.orig_off);
}

static void hc_print(struct vcpu *v)
{
    char buf[HVABI_PRINT_MAX + 1];
    uint64_t gpa = v->regs.rbx;
    size_t n = 0;
    for (; n < HVABI_PRINT_MAX; n++) {
        if (!guest_ram_ok(gpa + n, 1)) {
            v->regs.rax = HVABI_ERR_BADARG;
            guest_refused(v, REFUSE_GUEST_ADDRESS, gpa + n, "PRINT string at %#lx is not guest "
                          "RAM", gpa + n);
            return;
        }
        char c = *(const char *)phys_ptr(gpa + n);
        if (!c)
            break;
        buf[n] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    if (n == HVABI_PRINT_MAX) {
        v->regs.rax = HVABI_ERR_BADARG;
        guest_refused(v, REFUSE_VMCALL, gpa, "PRINT: no NUL in %u bytes at %#lx",
                      HVABI_PRINT_MAX, gpa);
        return;
    }
    buf[n] = 0;
    printf("guest cpu%u says: %s\n", v->index, buf);
    v->regs.rax = HVABI_OK;
}

static struct hook_list hooks;

void vmx_vmcall_register(vmcall_fn fn)
{
    hook_add(&hooks, (void *)fn, "VMCALL");
}

static void vmcall_other(struct vcpu *v, uint32_t fn)
{
    for (unsigned i = 0; i < hooks.n; i++)
        if (((vmcall_fn)hooks.fn[i])(v, fn))
            return;
    v->regs.rax = HVABI_ERR_UNKNOWN;
    guest_refused(v, REFUSE_VMCALL, fn, "VMCALL function %#x is unknown", fn);
}

/* Every VMCALL on every CPU: a counter gdb's watch test watches (it is
 * written by whichever CPU takes the VMCALL). */
uint64_t vmcall_count;

void handle_vmcall(struct vcpu *v)
{
    __atomic_fetch_add(&vmcall_count, 1, __ATOMIC_RELAXED);
    uint64_t lin = guest_linear(vmcs_read(GUEST_CS_BASE), vmcs_read(GUEST_RIP));
    if (lin == int15_hook.stub_linear && !(vmcs_read(GUEST_CR0) & 1)) {
        int15_hook_call(v);
        return;
    }
    uint32_t fn = v->regs.rax;
    trace_event(TEV_HYPERCALL, fn, v->regs.rbx, v->regs.rcx, v->regs.rdx);
    switch (fn) {
    case HVABI_VMCALL_PING:
        v->regs.rax = HVABI_OK;
        v->regs.rbx = HVABI_PING_MAGIC;
        v->regs.rcx = (uint32_t)(v->regs.rcx + 1);
        printf("hypercall PING from cpu%u\n", v->index);
        break;
    case HVABI_VMCALL_FOOTPRINT:
        v->regs.rax = HVABI_OK;
        v->regs.rbx = hv_footprint_start;
        v->regs.rcx = hv_footprint_end;
        break;
    case HVABI_VMCALL_PRINT:
        hc_print(v);
        break;
    default:
        vmcall_other(v, fn);
    }
    trace_event(TEV_HYPERCALL_RET, fn, v->regs.rax);
    guest_advance_rip();
}
