/* The guest's own machinery, no hypervisor needed: exceptions are caught
 * through the fixup table and reported with the right vector and error code.
 * Every other scenario's "did it fault?" relies on this. */
#include "../guest.h"

static const u64 passed_marker_for_selftest = 0x5e1f7e57ull;

static void run(void)
{
	int v = safe_ud2();
	check("ud_caught", v == 6, "ud2 gave vector %d, want 6 (#UD)", v);

	v = safe_div0();
	check("de_caught", v == 0, "div by zero gave vector %d, want 0 (#DE)", v);

	v = safe_write64(0x8000000000000000ull, 0);      /* non-canonical */
	check("gp_caught", v == 13 && fault_error() == 0,
	      "non-canonical write gave vector %d error 0x%lx, want 13 (#GP) error 0",
	      v, fault_error());

	u64 val, addr = 0x100000000000ull;                 /* canonical, unmapped */
	v = safe_read64(addr, &val);
	check("pf_caught", v == 14 && this_cpu()->fault.cr2 == addr,
	      "unmapped read gave vector %d cr2 0x%lx, want 14 (#PF) cr2 0x%lx",
	      v, this_cpu()->fault.cr2, addr);

	v = safe_read64((u64)&passed_marker_for_selftest, &val);
	check("no_false_fault", v == -1 && val == 0x5e1f7e57ull,
	      "a plain read reported vector %d value 0x%lx", v, val);
}

SCENARIO(00, selftest, run, "the guest catches #UD, #DE, #GP, #PF through its fixup table");
