/* RSDP -> RSDT/XSDT -> MADT. Tables are read through the identity map. */
#include <string.h>
#include "console/console.h"
#include <x86.h>
#include "acpi/acpi.h"

struct sdt_header {
    char sig[4];
    uint32_t length;
    uint8_t revision, checksum;
    char oem[6], oem_table[8];
    uint32_t oem_rev, creator, creator_rev;
} __attribute__((packed));

/* Table fields are packed and often unaligned: read them bytewise. */
static uint32_t load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static int checksum_ok(const void *p, uint32_t len)
{
    uint8_t sum = 0;
    for (uint32_t i = 0; i < len; i++)
        sum += ((const uint8_t *)p)[i];
    return sum == 0;
}

static uint64_t scan_rsdp(uint64_t start, uint64_t end)
{
    for (uint64_t a = start; a + 20 <= end; a += 16)
        if (!memcmp((const void *)a, "RSD PTR ", 8) && checksum_ok((const void *)a, 20))
            return a;
    return 0;
}

static const struct sdt_header *find_table(uint64_t rsdp, const char *sig)
{
    const uint8_t *r = (const uint8_t *)rsdp;
    uint8_t rev = r[15];
    uint64_t xsdt = rev >= 2 ? load64(r + 24) : 0;
    uint64_t rsdt = load32(r + 16);
    const struct sdt_header *root = (const void *)(xsdt ? xsdt : rsdt);
    unsigned esize = xsdt ? 8 : 4;
    if (!root || !checksum_ok(root, root->length)) {
        printf("hv: ACPI %s at %p has a bad checksum\n", xsdt ? "XSDT" : "RSDT", root);
        return NULL;
    }
    unsigned n = (root->length - sizeof(*root)) / esize;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *e = (const uint8_t *)(root + 1) + i * esize;
        uint64_t a = esize == 8 ? load64(e) : load32(e);
        const struct sdt_header *h = (const void *)a;
        if (h && !memcmp(h->sig, sig, 4) && checksum_ok(h, h->length))
            return h;
    }
    return NULL;
}

static void add_cpu(struct acpi_cpus *out, uint32_t apic_id)
{
    for (uint32_t i = 0; i < out->count; i++)
        if (out->apic_id[i] == apic_id)
            return;     /* the same CPU listed as xAPIC and x2APIC */
    if (out->count < ACPI_MAX_CPUS)
        out->apic_id[out->count++] = apic_id;
    else
        out->ignored++;
}

int acpi_find_cpus(uint64_t rsdp, struct acpi_cpus *out)
{
    memset(out, 0, sizeof(*out));
    if (!rsdp) {
        uint64_t ebda = (uint64_t)*(const uint16_t *)phys_ptr(0x40e) << 4;
        rsdp = scan_rsdp(ebda, ebda + 1024);
        if (!rsdp)
            rsdp = scan_rsdp(0xe0000, 0x100000);
    }
    if (!rsdp) {
        printf("hv: no ACPI RSDP found; cannot enumerate CPUs\n");
        return -1;
    }
    const struct sdt_header *madt = find_table(rsdp, "APIC");
    if (!madt) {
        printf("hv: ACPI has no valid MADT; cannot enumerate CPUs\n");
        return -1;
    }
    const uint8_t *p = (const uint8_t *)madt + sizeof(*madt);
    const uint8_t *end = (const uint8_t *)madt + madt->length;
    out->lapic_base = load32(p);
    for (p += 8; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
        switch (p[0]) {
        case 0:     /* processor local APIC: acpi id, apic id, flags */
            if (load32(p + 4) & 1)
                add_cpu(out, p[3]);
            break;
        case 5:     /* local APIC address override */
            out->lapic_base = load64(p + 4);
            break;
        case 9:     /* processor local x2APIC: x2apic id, flags, uid */
            if (load32(p + 8) & 1)
                add_cpu(out, load32(p + 4));
            break;
        }
    }
    if (out->ignored)
        printf("hv: %u CPUs beyond the supported %d are left alone\n",
               out->ignored, ACPI_MAX_CPUS);
    return out->count ? 0 : -1;
}
