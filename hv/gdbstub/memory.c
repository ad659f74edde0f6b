/* gdb's memory access, checked before and during the copy: an address
 * that is not canonical, not mapped, not RAM (MMIO, holes) gets E14; the
 * copy itself is checked_copy, so a fault the checks missed ends the
 * access instead of the hypervisor. The hypervisor view walks the
 * hypervisor's own page tables; the guest view (`monitor guest`) walks
 * the stopped CPU's guest page tables (its snapshot) and reaches only
 * guest RAM (the guest's E820, which hides the hypervisor). */
#include <string.h>
#include <x86.h>
#include "config/multiboot.h"
#include "cpu/exception.h"
#include "gdbstub/stub_internal.h"
#include "vmx/exit.h"

#define PTE_P       (1ull << 0)
#define PTE_PS      (1ull << 7)
#define ADDR_MASK   0x000ffffffffff000ull
#define CR0_WP_BIT  (1ull << 16)

/* Usable, ACPI-reclaimable and ACPI-NVS memory is RAM; the rest (reserved,
 * holes, MMIO) is refused: reading a device register can change it. */
static bool is_ram(uint64_t pa, uint64_t len)
{
    for (uint32_t i = 0; i < boot_info.mmap_count; i++) {
        const struct mb_mmap_entry *m = &boot_info.mmap[i];
        if ((m->type == 1 || m->type == 3 || m->type == 4) && pa >= m->addr &&
            pa + len <= m->addr + m->len)
            return true;
    }
    return false;
}

static bool canonical(uint64_t va)
{
    return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

/* The hypervisor's 4-level tables (the CR3 every CPU shares). Returns the
 * bytes left in the page (0: not mapped). */
static uint64_t hv_translate(uint64_t va, uint64_t *pa)
{
    if (!canonical(va))
        return 0;
    uint64_t table = read_cr3() & ADDR_MASK;
    for (int level = 4; level >= 1; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t e;
        if (!is_ram(table, 4096) || checked_copy(&e, phys_ptr(table + ((va >> shift) & 511) * 8), 8))
            return 0;
        if (!(e & PTE_P))
            return 0;
        if (level == 1 || (level <= 3 && (e & PTE_PS))) {
            uint64_t size = 1ull << shift;
            *pa = (e & ADDR_MASK & ~(size - 1)) | (va & (size - 1));
            return size - (va & (size - 1));
        }
        table = e & ADDR_MASK;
    }
    return 0;
}

/* Writes go through even to the hypervisor's read-only pages (INT3 into
 * its text): CR0.WP off for the copy; every other CPU is parked. */
static size_t copy_chunk(void *dst, const void *src, size_t n, bool write)
{
    uint64_t cr0 = read_cr0();
    if (write && (cr0 & CR0_WP_BIT))
        write_cr0(cr0 & ~CR0_WP_BIT);
    size_t left = checked_copy(dst, src, n);
    if (write && (cr0 & CR0_WP_BIT))
        write_cr0(cr0);
    return n - left;
}

bool gdb_hv_copy(void *dst, uint64_t addr, size_t len, bool write, const void *src)
{
    while (len) {
        uint64_t pa, room = hv_translate(addr, &pa);
        size_t n = len < room ? len : room;
        if (!room || !is_ram(pa, n))
            return false;
        /* The identity map: the hypervisor reaches RAM at its address. */
        size_t done = write ? copy_chunk(phys_ptr(pa), src, n, true)
                            : copy_chunk(dst, phys_ptr(pa), n, false);
        if (done != n)
            return false;
        addr += n;
        len -= n;
        if (write)
            src = (const uint8_t *)src + n;
        else
            dst = (uint8_t *)dst + n;
    }
    return true;
}

/* One guest page at most: the guest physical address of la, and room. */
static uint64_t guest_translate(const struct gdb_cpu *c, uint64_t la, uint64_t *gpa)
{
    uint32_t pf;
    if (!c->guest.valid || guest_walk_with(&c->guest.paging, la, false, gpa, &pf) != WALK_OK)
        return 0;
    return 4096 - (*gpa & 4095);
}

static size_t guest_access(const struct gdb_cpu *c, uint64_t addr, uint8_t *buf, size_t len,
                           bool write)
{
    size_t done = 0;
    while (done < len) {
        uint64_t gpa, room = guest_translate(c, addr + done, &gpa);
        size_t n = len - done < room ? len - done : room;
        if (!room || !guest_ram_ok(gpa, n))
            break;
        size_t got = write ? copy_chunk(phys_ptr(gpa), buf + done, n, false)
                           : copy_chunk(buf + done, phys_ptr(gpa), n, false);
        done += got;
        if (got != n)
            break;
    }
    return done;
}

static const struct gdb_cpu *view_cpu(int tid)
{
    if (tid < 1 || tid > (int)cpu_count)
        tid = gdb.reporter + 1;
    return &gdb_cpus[tid - 1];
}

size_t gdb_read_mem(void *ctx, int tid, uint64_t addr, uint8_t *buf, size_t len)
{
    if (gdb.view_guest)
        return guest_access(view_cpu(tid), addr, buf, len, false);
    /* Byte by byte at the edges would be slow; whole pages, then a short
     * count up to the first page that fails. */
    size_t done = 0;
    while (done < len) {
        uint64_t pa, room = hv_translate(addr + done, &pa);
        size_t n = len - done < room ? len - done : room;
        if (!room || !gdb_hv_copy(buf + done, addr + done, n, false, NULL))
            break;
        done += n;
    }
    return done;
}

int gdb_write_mem(void *ctx, int tid, uint64_t addr, const uint8_t *buf, size_t len)
{
    if (gdb.view_guest)
        return guest_access(view_cpu(tid), addr, (uint8_t *)buf, len, true) == len ? 0 : 14;
    return gdb_hv_copy(NULL, addr, len, true, buf) ? 0 : 14;
}
