#include "hostile.h"

/* ==== 4. control registers ==========================================================*/
static void cr_case(const char *chk, int which, u64 val)
{
	u64 before = which == 0 ? read_cr0() : which == 3 ? read_cr3() : read_cr4();
	int v = which == 0 ? write_cr0(val) : which == 3 ? write_cr3(val) : write_cr4(val);
	u64 after = which == 0 ? read_cr0() : which == 3 ? read_cr3() : read_cr4();
	char what[64];
	snprintf(what, sizeof(what), "mov 0x%lx to CR%d", val, which);
	bool ok = want_gp(v, what);
	if (after != before) {
		if (which == 0)
			write_cr0(before);
		else if (which == 3)
			write_cr3(before);
		else
			write_cr4(before);
	}
	check(chk, ok && after == before, "%s; CR%d 0x%lx -> 0x%lx", ok ? "#GP" : why, which,
	      before, after);
}

void class_cr(void)
{
	u64 cr0 = read_cr0(), cr4 = read_cr4(), cr3 = read_cr3();
	info("CR0 = 0x%lx, CR3 = 0x%lx, CR4 = 0x%lx", cr0, cr3, cr4);
	cr_case("cr0_pg_without_pe_gp", 0, cr0 & ~X86_CR0_PE);
	cr_case("cr0_bit32_gp", 0, cr0 | (1ull << 32));
	if (random_mode)
		cr_case("cr0_high_random_gp", 0, cr0 | (1ull << (32 + rnd_below(32))));
	cr_case("cr0_nw_without_cd_gp", 0, (cr0 | X86_CR0_NW) & ~X86_CR0_CD);
	cr_case("cr0_pg_off_in_long_mode_gp", 0, cr0 & ~X86_CR0_PG);
	u64 efer = rdmsr(MSR_EFER);
	check("still_long_mode", (efer & EFER_LMA) && (read_cr0() & X86_CR0_PG),
	      "EFER = 0x%lx, CR0 = 0x%lx: not in long mode any more", efer, read_cr0());
	if (!check_need_hv("cr4_vmxe_gp"))
		cr_case("cr4_vmxe_gp", 4, cr4 | HVABI_CR4_VMXE);
	cr_case("cr4_reserved_bit15_gp", 4, cr4 | (1ull << 15));
	cr_case("cr4_reserved_bit63_gp", 4, cr4 | (1ull << 63));
	if (random_mode)
		cr_case("cr4_reserved_random_gp", 4, cr4 | (1ull << (32 + rnd_below(32))));
	u32 mp = maxphyaddr();
	if (mp < 52)
		cr_case("cr3_above_maxphyaddr_gp", 3, cr3 | (1ull << (mp + (random_mode ?
			rnd_below(52 - mp) : 0))));
	else
		info("MAXPHYADDR is 52: no CR3 bit above it to try");
}
