#include "hostile.h"

/* ==== 5. XSETBV ======================================================================*/
static void xsetbv_case(const char *chk, u64 rcx, u64 val)
{
	u64 before = xgetbv0();
	int v = xsetbv_raw(rcx, val);
	u64 after = xgetbv0();
	char what[80];
	snprintf(what, sizeof(what), "xsetbv rcx=0x%lx value 0x%lx", rcx, val);
	bool ok = want_gp(v, what);
	if (after != before)
		xsetbv_raw(0, before);
	check(chk, ok && after == before, "%s; XCR0 0x%lx -> 0x%lx", ok ? "#GP" : why, before, after);
}

void class_xsetbv(void)
{
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 26))) {
		info("CPUID.1:ECX.XSAVE = 0: no XSETBV checks");
		return;
	}
	u64 cr4 = read_cr4();
	if (!(cr4 & X86_CR4_OSXSAVE) && write_cr4(cr4 | X86_CR4_OSXSAVE) >= 0) {
		check_fail("xsetbv_osxsave", "setting CR4.OSXSAVE raised %s", vector_name(
			   (unsigned)fault_vector()));
		return;
	}
	cpuid(0xd, 0, &a, &b, &c, &d);
	u64 supported = (u64)d << 32 | a;
	u64 xcr0 = xgetbv0();
	info("XCR0 = 0x%lx, supported 0x%lx", xcr0, supported);
	xsetbv_case("xsetbv_opmask_without_zmm_gp", 0, 0x27);
	xsetbv_case("xsetbv_no_x87_gp", 0, 0x2);
	xsetbv_case("xsetbv_avx_without_sse_gp", 0, 0x5);
	xsetbv_case("xsetbv_ecx1_gp", 1, 0x3);
	if (random_mode)
		xsetbv_case("xsetbv_ecx_random_gp", 2 + rnd_below(0xfffffffd), 0x3);
	xsetbv_case("xsetbv_bit63_gp", 0, 0x3 | (1ull << 63));
	u64 unsup = ~supported & ~1ull;
	unsup &= (unsup & 0xffffffffull) ? 0xffffffffull : ~0ull;   /* prefer a low bit */
	if (unsup) {
		u64 bit = unsup & -unsup;
		if (random_mode) {
			u32 cnt = 0;
			for (u64 m = unsup; m; m &= m - 1)
				cnt++;
			u32 pick = (u32)rnd_below(cnt);
			for (u64 m = unsup; m; m &= m - 1)
				if (!pick--) {
					bit = m & -m;
					break;
				}
		}
		xsetbv_case("xsetbv_unsupported_bit_gp", 0, 0x3 | bit);
	}
	/* Only ECX names the XCR: junk in RCX[63:32] must not matter. */
	int v = xsetbv_raw(0xdeadbeef00000000ull, 0x3);
	u64 now = xgetbv0();
	check("xsetbv_rcx_high_ignored", v < 0 && now == 0x3,
	      "xsetbv rcx=0xdeadbeef00000000 value 0x3 gave vector %d, XCR0 reads 0x%lx", v, now);
	xsetbv_raw(0, xcr0);
	if (!(cr4 & X86_CR4_OSXSAVE))
		write_cr4(cr4);
}
