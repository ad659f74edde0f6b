/* ACPI tables through the RSDP copy GRUB passed (the RSDT is enough for the
 * firmware we boot on: Bochs, QEMU, and what the hypervisor passes on).
 * Used by power.c (FADT, DSDT) and smp.c (MADT). */
#include "guest.h"

bool acpi_mapped(u64 a, u64 n) { return a && a + n <= IDENTITY_MAP_END; }

const struct sdt_header *acpi_find(const char *sig)
{
	const u8 *rsdp = boot_info.rsdp;
	if (!rsdp || memcmp(rsdp, "RSD PTR ", 8))
		return NULL;
	u32 rsdt_addr = *(const u32 *)(rsdp + 16);
	if (!acpi_mapped(rsdt_addr, sizeof(struct sdt_header)))
		return NULL;
	const struct sdt_header *rsdt = (const void *)(u64)rsdt_addr;
	if (memcmp(rsdt->sig, "RSDT", 4) || !acpi_mapped(rsdt_addr, rsdt->length))
		return NULL;
	const u32 *ent = (const u32 *)(rsdt + 1);
	for (u32 i = 0; i < (rsdt->length - sizeof(*rsdt)) / 4; i++) {
		if (!acpi_mapped(ent[i], sizeof(struct sdt_header)))
			continue;
		const struct sdt_header *t = (const void *)(u64)ent[i];
		if (!memcmp(t->sig, sig, 4) && acpi_mapped(ent[i], t->length))
			return t;
	}
	return NULL;
}
