#ifndef HV_ACPI_ACPI_H
#define HV_ACPI_ACPI_H
#include <stdint.h>

#define ACPI_MAX_CPUS 64

struct acpi_cpus {
    uint32_t count;
    uint32_t apic_id[ACPI_MAX_CPUS];
    uint64_t lapic_base;        /* MADT's local APIC address */
    uint32_t ignored;           /* enabled CPUs past ACPI_MAX_CPUS */
};

/* Finds every enabled CPU from the MADT (xAPIC and x2APIC entries).
 * rsdp: the RSDP from the multiboot info, or 0 to scan the BIOS areas.
 * Returns 0, or -1 with a message. */
int acpi_find_cpus(uint64_t rsdp, struct acpi_cpus *out);

#endif
