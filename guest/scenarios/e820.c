/* The memory map GRUB passed (from INT 15h E820): printed, and no usable
 * range may overlap the hypervisor's footprint (VMCALL FOOTPRINT). */
#include "../guest.h"

static void run(void)
{
	u64 usable = 0;
	for (u32 i = 0; i < boot_info.mmap_count; i++) {
		const struct mmap_entry *e = mmap_get(i);
		info("map base=0x%016lx end=0x%016lx type=%u (%s)", e->base,
		     e->base + e->len, e->type, mmap_type_name(e->type));
		if (e->type == 1)
			usable += e->len;
	}
	if (boot_info.have_meminfo)
		info("meminfo lower=%u KiB upper=%u KiB", boot_info.mem_lower_kb,
		     boot_info.mem_upper_kb);
	check("map_present", boot_info.mmap_count && usable,
	      "no multiboot2 memory map with usable RAM (%u entries)", boot_info.mmap_count);

	u64 start, end;
	const char *why;
	if (!hv_footprint(&start, &end, &why)) {
		check_fail("footprint_hidden", "%s", why);
		check_fail("meminfo_below_footprint", "%s", why);
		return;
	}
	info("hypervisor footprint [0x%lx, 0x%lx)", start, end);
	u32 bad = 0;
	for (u32 i = 0; i < boot_info.mmap_count; i++) {
		const struct mmap_entry *e = mmap_get(i);
		if (e->type == 1 && e->base < end && e->base + e->len > start) {
			if (!bad++)
				check_fail("footprint_hidden",
					   "usable range [0x%lx, 0x%lx) overlaps the footprint "
					   "[0x%lx, 0x%lx)", e->base, e->base + e->len, start, end);
		}
	}
	if (!bad)
		check_pass("footprint_hidden");

	/* GRUB's mem_upper is the usable RAM contiguous from 1 MiB. */
	if (!boot_info.have_meminfo || start < 0x100000) {
		check_fail("meminfo_below_footprint", "no basic meminfo tag or footprint below 1 MiB");
		return;
	}
	u64 upper_end = 0x100000 + (u64)boot_info.mem_upper_kb * 1024;
	check("meminfo_below_footprint", upper_end <= start,
	      "upper memory reaches 0x%lx, past the footprint start 0x%lx", upper_end, start);
}

SCENARIO(40, e820, run, "the memory map hides the hypervisor footprint");
