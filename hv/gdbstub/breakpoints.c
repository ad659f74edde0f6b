/* Z0: an INT3 written over a byte of the hypervisor's text, the byte kept
 * and put back exactly on z0, detach and kill. Z1-Z4 go to the debug
 * registers (dr.c). Breakpoints are set while every CPU is stopped (gdb
 * inserts them just before it resumes), so no CPU runs a half-written
 * instruction; the release's IRET or VM entry serialises. */
#include <image.h>
#include "gdbstub/stub_internal.h"

#define MAX_SW_BREAKPOINTS 64
#define INT3 0xcc

static struct { uint64_t addr; uint8_t saved; bool used; } sw[MAX_SW_BREAKPOINTS];

bool gdb_is_sw_breakpoint(uint64_t addr)
{
    for (int i = 0; i < MAX_SW_BREAKPOINTS; i++)
        if (sw[i].used && sw[i].addr == addr)
            return true;
    return false;
}

static int sw_insert(uint64_t addr)
{
    if (addr < (uint64_t)hv_text_start || addr >= (uint64_t)hv_text_end)
        return 14;      /* only the hypervisor's own code (guest breakpoints: not yet) */
    if (gdb_is_sw_breakpoint(addr))
        return 0;       /* gdb may insert twice; one INT3, one saved byte */
    for (int i = 0; i < MAX_SW_BREAKPOINTS; i++) {
        if (sw[i].used)
            continue;
        uint8_t int3 = INT3;
        if (!gdb_hv_copy(&sw[i].saved, addr, 1, false, NULL) ||
            !gdb_hv_copy(NULL, addr, 1, true, &int3))
            return 14;
        sw[i].addr = addr;
        sw[i].used = true;
        return 0;
    }
    return 28;          /* ENOSPC: the table is full */
}

static int sw_remove(uint64_t addr)
{
    for (int i = 0; i < MAX_SW_BREAKPOINTS; i++)
        if (sw[i].used && sw[i].addr == addr) {
            if (!gdb_hv_copy(NULL, addr, 1, true, &sw[i].saved))
                return 14;
            sw[i].used = false;
            return 0;
        }
    return 22;
}

int gdb_set_breakpoint(void *ctx, bool insert, enum rsp_bp_type type, uint64_t addr, uint32_t kind)
{
    if (gdb.view_guest)
        return 22;      /* breakpoints in the guest: not supported yet */
    if (type == RSP_BP_SW)
        return insert ? sw_insert(addr) : sw_remove(addr);
    return gdb_dr_set(insert, type, addr, kind);
}

void gdb_breakpoints_clear(void)
{
    for (int i = 0; i < MAX_SW_BREAKPOINTS; i++)
        if (sw[i].used)
            sw_remove(sw[i].addr);
}
