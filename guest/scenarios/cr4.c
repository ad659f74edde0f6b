/* CR4.VMXE: reads 0 and cannot be set (#GP(0), CR4 unchanged). */
#include "../guest.h"

static void run(void)
{
	u64 cr4 = read_cr4();
	info("CR4 = 0x%lx", cr4);
	if (!check_need_hv("vmxe_reads_0"))
		check("vmxe_reads_0", !(cr4 & HVABI_CR4_VMXE), "CR4=0x%lx has VMXE (bit 13) set", cr4);

	if (!check_need_hv("vmxe_set_gp")) {
		int v = safe_write_cr4(cr4 | HVABI_CR4_VMXE);
		u64 after = read_cr4();
		if (after != cr4)
			safe_write_cr4(cr4);        /* put it back whatever happened */
		check("vmxe_set_gp", v == 13 && fault_error() == 0 && after == cr4,
		      "setting CR4.VMXE gave vector %d error 0x%lx, CR4 0x%lx -> 0x%lx; "
		      "want #GP(0) and CR4 unchanged", v, fault_error(), cr4, after);
	}
}

SCENARIO(30, cr4, run, "CR4.VMXE reads 0 and setting it raises #GP");
