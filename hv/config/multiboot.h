/* What the hypervisor keeps from the multiboot2 information GRUB passed. */
#ifndef HV_BOOT_MULTIBOOT_H
#define HV_BOOT_MULTIBOOT_H
#include <stdint.h>

#define MB_MAX_MMAP     64
#define MB_MAX_MODULES  8

struct mb_mmap_entry {
    uint64_t addr, len;
    uint32_t type;              /* 1 = usable RAM, as E820 */
};

struct mb_module {
    uint64_t start, end;
    const char *cmdline;
};

struct boot_info {
    const char *cmdline;
    uint64_t mbi_start, mbi_end;
    struct mb_mmap_entry mmap[MB_MAX_MMAP];
    uint32_t mmap_count;
    struct mb_module modules[MB_MAX_MODULES];
    uint32_t module_count;
    uint64_t acpi_rsdp;         /* copy of the RSDP inside the MBI, or 0 */
};

extern struct boot_info boot_info;

/* Returns 0, or -1 with a message printed if the MBI is unusable. */
int multiboot_parse(uint32_t mbi_phys);

#endif
