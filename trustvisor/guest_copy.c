/* The caller's memory as the caller addresses it: a linear address through
 * the guest's current paging (vmx/guest_mem.h), one page at a time, into
 * guest RAM only (guest_ram_ok: never the hypervisor, MMIO or a PAL's
 * pages, which TrustVisor withholds through the same check). */
#include <string.h>
#include <x86.h>
#include "mem/pmm.h"
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
        if (write)
            memcpy(phys_ptr(gpa), b, n);
        else
            memcpy(b, phys_ptr(gpa), n);
        gva += n;
        b += n;
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
