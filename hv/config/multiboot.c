#include <stdint.h>
#include "console/console.h"
#include "config/multiboot.h"

struct boot_info boot_info;

enum {
    MBT_END = 0, MBT_CMDLINE = 1, MBT_MODULE = 3, MBT_MMAP = 6,
    MBT_ACPI_OLD = 14, MBT_ACPI_NEW = 15,
};

struct mb_tag { uint32_t type, size; };

int multiboot_parse(uint32_t mbi_phys)
{
    const uint8_t *mbi = (const uint8_t *)(uint64_t)mbi_phys;
    uint32_t total = *(const uint32_t *)mbi;
    if (total < 16 || total > (1u << 20)) {
        printf("hv: multiboot2 info at %#x has implausible size %u\n", mbi_phys, total);
        return -1;
    }
    boot_info.mbi_start = mbi_phys;
    boot_info.mbi_end = (uint64_t)mbi_phys + total;
    boot_info.cmdline = "";

    for (uint32_t off = 8; off + 8 <= total;) {
        const struct mb_tag *t = (const struct mb_tag *)(mbi + off);
        if (t->type == MBT_END)
            break;
        if (t->size < 8 || off + t->size > total) {
            printf("hv: multiboot2 tag %u at offset %u is malformed\n", t->type, off);
            return -1;
        }
        const uint8_t *body = (const uint8_t *)t + 8;
        switch (t->type) {
        case MBT_CMDLINE:
            boot_info.cmdline = (const char *)body;
            break;
        case MBT_MODULE:
            if (boot_info.module_count < MB_MAX_MODULES) {
                struct mb_module *m = &boot_info.modules[boot_info.module_count++];
                m->start = ((const uint32_t *)body)[0];
                m->end = ((const uint32_t *)body)[1];
                m->cmdline = (const char *)body + 8;
            } else {
                printf("hv: more than %d modules; extra ones ignored\n", MB_MAX_MODULES);
            }
            break;
        case MBT_MMAP: {
            uint32_t esize = ((const uint32_t *)body)[0];
            if (esize < 24)
                break;
            for (const uint8_t *e = body + 8; e + esize <= (const uint8_t *)t + t->size;
                 e += esize) {
                if (boot_info.mmap_count == MB_MAX_MMAP) {
                    printf("hv: memory map longer than %d entries; truncated\n", MB_MAX_MMAP);
                    break;
                }
                struct mb_mmap_entry *m = &boot_info.mmap[boot_info.mmap_count++];
                m->addr = *(const uint64_t *)e;
                m->len = *(const uint64_t *)(e + 8);
                m->type = *(const uint32_t *)(e + 16);
            }
            break;
        }
        case MBT_ACPI_OLD:
        case MBT_ACPI_NEW:
            /* Prefer the ACPI 2.0+ copy (XSDT) when both are present. */
            if (!boot_info.acpi_rsdp || t->type == MBT_ACPI_NEW)
                boot_info.acpi_rsdp = (uint64_t)body;
            break;
        }
        off += (t->size + 7) & ~7u;
    }
    return 0;
}
