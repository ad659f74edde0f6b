/* The caller's memory as the caller addresses it: a linear address through
 * the guest's current paging (vmx/guest_mem.h), one page at a time, into
 * guest RAM only (guest_ram_ok: never the hypervisor, MMIO or a PAL's
 * pages, which TrustVisor withholds through the same check); for a
 * hypercall from inside a PAL, the PAL's own pages instead. */
#include <string.h>
#include <x86.h>
#include "mem/pmm.h"
#include "trustvisor/pal.h"
#include "trustvisor/tv.h"
#include "vmx/exit.h"
#include "vmx/guest_mem.h"
#include "vmx/vmcs.h"

#define CS_AR_L (1u << 13)      /* 64-bit code segment (SDM Vol. 3C, 24.4.1) */

uint64_t tv_arg(uint64_t reg)
{
    return (vmcs_read(GUEST_CS_AR) & CS_AR_L) ? reg : (uint32_t)reg;
}

static bool copy(uint64_t gva, void *buf, size_t len, bool write)
{
    uint8_t *b = buf;
    while (len) {
        uint64_t gpa;
        uint32_t pf;
        size_t n = PAGE_SIZE - (gva & (PAGE_SIZE - 1));
        if (n > len)
            n = len;
        if (guest_linear_to_phys(gva, write, &gpa, &pf) != WALK_OK || !guest_ram_ok(gpa, n))
            return false;
        if (b && write)
            memcpy(phys_ptr(gpa), b, n);
        else if (b)
            memcpy(b, phys_ptr(gpa), n);
        gva += n;
        b = b ? b + n : NULL;
        len -= n;
    }
    return true;
}

bool tv_copy_from_guest(void *dst, uint64_t gva, size_t len)
{
    return copy(gva, dst, len, false);
}

bool tv_copy_to_guest(uint64_t gva, const void *src, size_t len)
{
    return copy(gva, (void *)src, len, true);
}

/* A PAL's own pages at its own linear addresses, page by page. */
static bool pal_copy(struct pal *p, uint64_t gva, void *buf, size_t len, bool write)
{
    uint8_t *b = buf;
    while (len) {
        size_t n = PAGE_SIZE - (gva & (PAGE_SIZE - 1));
        n = n < len ? n : len;
        void *h = pal_ptr_rw(p, gva, n, write);
        if (!h)
            return false;
        if (b && write)
            memcpy(h, b, n);
        else if (b)
            memcpy(b, h, n);
        gva += n, b = b ? b + n : NULL, len -= n;
    }
    return true;
}

bool tv_read(struct vcpu *v, void *dst, uint64_t gva, size_t len)
{
    struct pal *p = pal_running_here(v);
    return p ? pal_copy(p, gva, dst, len, false) : copy(gva, dst, len, false);
}

bool tv_write(struct vcpu *v, uint64_t gva, const void *src, size_t len)
{
    struct pal *p = pal_running_here(v);
    return p ? pal_copy(p, gva, (void *)src, len, true) : copy(gva, (void *)src, len, true);
}

/* Whether tv_write() of len bytes at gva would succeed, writing nothing (a
 * NULL buffer walks the same pages): a command checks its whole output
 * before it makes the output, so a refused one leaves the caller's memory
 * as it was. */
bool tv_writable(struct vcpu *v, uint64_t gva, size_t len)
{
    struct pal *p = pal_running_here(v);
    return p ? pal_copy(p, gva, NULL, len, true) : copy(gva, NULL, len, true);
}
