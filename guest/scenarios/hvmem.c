/* The hypervisor's memory is not the guest's: a write to the footprint is
 * refused with #GP(0) injected, and the memory there does not change. */
#include "../guest.h"

#define PATTERN ((u64)0x5a5ac0dedeadbeefull)

static void run(void)
{
	u64 start, end;
	const char *why;
	if (!hv_footprint(&start, &end, &why)) {
		check_fail("write_gp", "%s", why);
		check_fail("unchanged", "%s", why);
		return;
	}
	if (end > IDENTITY_MAP_END) {
		check_fail("write_gp", "footprint [0x%lx, 0x%lx) is not below 4 GiB, which is "
			   "all this guest maps", start, end);
		check_fail("unchanged", "footprint not mapped by the guest");
		return;
	}
	u64 before = 0, after = 0;
	int rb = safe_read64(start, &before);
	if (rb < 0)
		info("read of 0x%lx before the write: 0x%lx", start, before);
	else
		info("read of 0x%lx before the write raised %s error 0x%lx", start,
		     vector_name(rb), fault_error());

	int w = safe_write64(start, PATTERN);
	u64 werr = fault_error();
	if (w < 0)
		check_fail("write_gp", "write of 0x%lx to the footprint start 0x%lx completed, "
			   "want #GP(0)", PATTERN, start);
	else
		check("write_gp", w == 13 && werr == 0, "write to the footprint start 0x%lx "
		      "raised vector %d error 0x%lx, want #GP(0)", start, w, werr);

	int ra = safe_read64(start, &after);
	if (ra >= 0)
		check("unchanged", ra == 13, "read after the write raised %s (vector %d), "
		      "want #GP or the old contents", vector_name(ra), ra);
	else if (rb >= 0)
		check_fail("unchanged", "read before the write raised %s, read after it "
			   "returns 0x%lx", vector_name(rb), after);
	else
		check("unchanged", after == before,
		      "0x%lx held 0x%lx before the write, 0x%lx after", start, before, after);
}

SCENARIO(50, hvmem, run, "a write to the hypervisor footprint raises #GP and changes nothing");
