/* acpi_find_cpus on made-up tables (no emulator here builds x2APIC MADT
 * entries: Bochs' BIOS writes type 0 only, QEMU type 9 only for APIC IDs
 * of 255 and up). The hypervisor's own acpi.c, compiled for the host: the
 * tables live in host memory and the identity map is the host's pointers. */
#include <stdio.h>
#include <stdlib.h>
#include "acpi/acpi.c"

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static uint8_t madt[256], xsdt[64], rsdt[64], rsdp[36];

static void fix_checksum(uint8_t *t, uint32_t len, unsigned at)
{
    uint8_t sum = 0;
    t[at] = 0;
    for (uint32_t i = 0; i < len; i++)
        sum += t[i];
    t[at] = (uint8_t)-sum;
}

static uint32_t header(uint8_t *t, const char *sig, uint32_t len)
{
    memcpy(t, sig, 4);
    memcpy(t + 4, &len, 4);
    return 36;
}

static uint32_t entry(uint8_t *p, uint8_t type, uint8_t len)
{
    p[0] = type;
    p[1] = len;
    return len;
}

/* MADT: xAPIC 0 (enabled), xAPIC 1 (disabled), x2APIC 0x100 (enabled),
 * x2APIC 0 (the same CPU as xAPIC 0), x2APIC 0x101 (disabled), and a
 * local APIC address override; entries start unaligned on purpose. */
static uint32_t build_madt(void)
{
    uint32_t n = header(madt, "APIC", 0), v;
    v = 0xfee00000;
    memcpy(madt + n, &v, 4);
    n += 8;
    uint8_t *p = madt + n;
    p += entry(p, 0, 8); p[-5] = 0; v = 1; memcpy(p - 4, &v, 4);
    p += entry(p, 0, 8); p[-5] = 1; v = 0; memcpy(p - 4, &v, 4);
    p += entry(p, 9, 16); v = 0x100; memcpy(p - 12, &v, 4); v = 1; memcpy(p - 8, &v, 4);
    p += entry(p, 9, 16); v = 0; memcpy(p - 12, &v, 4); v = 1; memcpy(p - 8, &v, 4);
    p += entry(p, 9, 16); v = 0x101; memcpy(p - 12, &v, 4); v = 0; memcpy(p - 8, &v, 4);
    p += entry(p, 5, 12); uint64_t base = 0xfed00000; memcpy(p - 8, &base, 8);
    n = p - madt;
    memcpy(madt + 4, &n, 4);
    fix_checksum(madt, n, 9);
    return n;
}

static void build_roots(void)
{
    uint64_t m = (uint64_t)(uintptr_t)madt;
    uint32_t m32 = (uint32_t)m;
    header(xsdt, "XSDT", 44);
    memcpy(xsdt + 36, &m, 8);
    fix_checksum(xsdt, 44, 9);
    header(rsdt, "RSDT", 40);
    memcpy(rsdt + 36, &m32, 4);
    fix_checksum(rsdt, 40, 9);
    memcpy(rsdp, "RSD PTR ", 8);
    uint64_t x = (uint64_t)(uintptr_t)xsdt;
    uint32_t r = (uint32_t)(uintptr_t)rsdt;
    rsdp[15] = 2;
    memcpy(rsdp + 16, &r, 4);
    memcpy(rsdp + 24, &x, 8);
}

int main(void)
{
    struct acpi_cpus cpus;
    build_madt();
    build_roots();
    CHECK(acpi_find_cpus((uint64_t)(uintptr_t)rsdp, &cpus) == 0);
    CHECK(cpus.count == 2);
    CHECK(cpus.apic_id[0] == 0 && cpus.apic_id[1] == 0x100);
    CHECK(cpus.lapic_base == 0xfed00000);

    /* A broken MADT checksum: no CPUs, an error. */
    madt[9] ^= 1;
    CHECK(acpi_find_cpus((uint64_t)(uintptr_t)rsdp, &cpus) == -1);
    madt[9] ^= 1;

    /* An entry whose length runs past the table ends the walk there. */
    uint32_t len;
    memcpy(&len, madt + 4, 4);
    madt[36 + 8 + 8 + 1] = 200;     /* the second xAPIC entry's length */
    fix_checksum(madt, len, 9);
    CHECK(acpi_find_cpus((uint64_t)(uintptr_t)rsdp, &cpus) == 0 && cpus.count == 1);

    if (failures)
        return 1;
    printf("test_acpi_madt: all passed\n");
    return 0;
}
