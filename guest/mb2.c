/* The multiboot2 boot information: command line, memory map (GRUB builds
 * it from INT 15h E820), basic meminfo and the ACPI RSDP copy. */
#include "guest.h"

#define MB2_BOOTLOADER_MAGIC 0x36d76289

enum { TAG_END = 0, TAG_CMDLINE = 1, TAG_MEMINFO = 4, TAG_MMAP = 6,
       TAG_ACPI_OLD = 14, TAG_ACPI_NEW = 15 };

struct boot_info boot_info = { .cmdline = "" };

void mb2_parse(u32 magic, u64 info)
{
	if (magic != MB2_BOOTLOADER_MAGIC || !info || info >= IDENTITY_MAP_END)
		return;
	u32 total = *(const u32 *)info;
	boot_info.mbi_start = info;
	boot_info.mbi_end = info + total;
	const u8 *p = (const u8 *)info + 8, *end = (const u8 *)info + total;
	while (p + 8 <= end) {
		u32 type = ((const u32 *)p)[0], size = ((const u32 *)p)[1];
		if (type == TAG_END || size < 8)
			break;
		const u8 *body = p + 8;
		switch (type) {
		case TAG_CMDLINE:
			boot_info.cmdline = (const char *)body;
			break;
		case TAG_MEMINFO:
			boot_info.have_meminfo = true;
			boot_info.mem_lower_kb = ((const u32 *)body)[0];
			boot_info.mem_upper_kb = ((const u32 *)body)[1];
			break;
		case TAG_MMAP: {
			u32 esize = ((const u32 *)body)[0];
			if (esize >= 20) {
				boot_info.mmap = (const struct mmap_entry *)(body + 8);
				boot_info.mmap_entry_size = esize;
				boot_info.mmap_count = (size - 16) / esize;
			}
			break;
		}
		case TAG_ACPI_NEW:
			boot_info.rsdp = body;
			break;
		case TAG_ACPI_OLD:
			if (!boot_info.rsdp)
				boot_info.rsdp = body;
			break;
		}
		p += (size + 7) & ~7u;
	}
	boot_info.valid = true;
}

const struct mmap_entry *mmap_get(u32 i)
{
	if (i >= boot_info.mmap_count)
		return NULL;
	return (const struct mmap_entry *)((const u8 *)boot_info.mmap +
					   (u64)i * boot_info.mmap_entry_size);
}

const char *mmap_type_name(u32 type)
{
	switch (type) {
	case 1: return "usable";
	case 2: return "reserved";
	case 3: return "ACPI reclaimable";
	case 4: return "ACPI NVS";
	case 5: return "bad memory";
	default: return "unknown";
	}
}
