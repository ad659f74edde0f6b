#include "hostile.h"

/* ==== 3. MSRs ====================================================================== */
static void msr_gp_range(const char *chk, u32 first, u32 last, bool writes,
			 bool (*skip)(u32 msr))
{
	u32 bad = 0, at = 0;
	int v0 = -1;
	for (u32 m = first; m <= last; m++) {
		u64 x = 0;
		if (skip && skip(m))
			continue;
		int v = writes ? safe_wrmsr(m, 0) : safe_rdmsr(m, &x);
		if ((v != 13 || fault_error()) && !bad++) {
			at = m;
			v0 = v;
		}
	}
	check(chk, !bad, "%u of the MSRs 0x%x..0x%x %s without #GP(0) (first 0x%x: %s)", bad,
	      first, last, writes ? "took a write" : "read", at,
	      v0 < 0 ? "completed" : vector_name((unsigned)v0));
}

/* x2APIC MSRs whose write would do harm if a broken hypervisor let it through. */
static bool x2apic_write_harmful(u32 m)
{
	return m == 0x80f || (m >= 0x82f && m <= 0x838) || m == 0x83e || m == 0x83f;
}

void class_msr(void)
{
	u64 fc = 0, x;
	int v = safe_rdmsr(HVABI_MSR_FEATURE_CONTROL, &fc);
	if (!check_need_hv("msr_feature_control_read"))
		check("msr_feature_control_read", v < 0 && (fc & HVABI_FC_LOCK) &&
		      !(fc & (HVABI_FC_VMX_IN_SMX | HVABI_FC_VMX_OUTSIDE_SMX)),
		      "rdmsr 0x3a: vector %d, value 0x%lx; want locked with VMX off", v, fc);
	if (!check_need_hv("msr_feature_control_write_gp")) {
		v = safe_wrmsr(HVABI_MSR_FEATURE_CONTROL, fc | HVABI_FC_VMX_OUTSIDE_SMX);
		u64 after = 0;
		safe_rdmsr(HVABI_MSR_FEATURE_CONTROL, &after);
		bool ok = want_gp(v, "wrmsr 0x3a (VMX on)");
		check("msr_feature_control_write_gp", ok && after == fc, "%s; 0x%lx -> 0x%lx",
		      ok ? "the write was refused" : why, fc, after);
	}
	if (!check_need_hv("msr_vmx_caps_read_gp"))
		msr_gp_range("msr_vmx_caps_read_gp", HVABI_MSR_VMX_FIRST, HVABI_MSR_VMX_LAST, false, NULL);
	/* Read-only on every CPU that has them: #GP bare as well. */
	msr_gp_range("msr_vmx_caps_write_gp", HVABI_MSR_VMX_FIRST, HVABI_MSR_VMX_LAST, true, NULL);

	/* EFER: bits other than SCE, LME, LMA, NXE are reserved on Intel. */
	u64 efer = rdmsr(MSR_EFER);
	static const u64 efer_bad[] = { 1ull << 1, 1ull << 9, 1ull << 12, 1ull << 16, 1ull << 63 };
	u32 bad = 0;
	char first[160] = "";
	for (u32 i = 0; i < ARRAY_SIZE(efer_bad) + (random_mode ? 4 : 0); i++) {
		u64 bit = i < ARRAY_SIZE(efer_bad) ? efer_bad[i] : 1ull << (16 + rnd_below(48));
		v = safe_wrmsr(MSR_EFER, efer | bit);
		u64 after = rdmsr(MSR_EFER);
		if (!want_gp(v, "wrmsr EFER") || after != efer) {
			if (after != efer)
				safe_wrmsr(MSR_EFER, efer);
			if (!bad++)
				snprintf(first, sizeof(first), "EFER 0x%lx | 0x%lx: %s; reads 0x%lx after",
					 efer, bit, v == 13 ? "#GP" : why, after);
		}
	}
	check("msr_efer_reserved_gp", !bad, "%u reserved EFER bits accepted; first: %s", bad, first);

	/* MSRs no CPU has. */
	u32 unknown[6] = { 0x40000123u, 0xdeadbeefu, 0x40000fffu, 0xc0ffee00u };
	u32 nunknown = 4;
	if (random_mode) {
		unknown[nunknown++] = 0x40000200u + (u32)rnd_below(0x1000);
		unknown[nunknown++] = 0xdead0000u + (u32)rnd_below(0x10000);
	}
	bad = 0;
	for (u32 i = 0; i < nunknown; i++) {
		int r = safe_rdmsr(unknown[i], &x);
		int w = safe_wrmsr(unknown[i], 0x1234);
		if ((r != 13 || w != 13) && !bad++)
			snprintf(first, sizeof(first), "MSR 0x%x: read %s, write %s", unknown[i],
				 r < 0 ? "completed" : vector_name((unsigned)r),
				 w < 0 ? "completed" : vector_name((unsigned)w));
	}
	check("msr_unknown_gp", !bad, "%u unknown MSRs without #GP; first: %s", bad, first);

	/* x2APIC MSRs while the LAPIC is in xAPIC mode. */
	if (lapic_is_x2apic()) {
		info("the LAPIC is in x2APIC mode: the xAPIC-mode MSR checks do not apply");
	} else {
		msr_gp_range("msr_x2apic_read_gp", 0x800, 0x83f, false, NULL);
		msr_gp_range("msr_x2apic_write_gp", 0x800, 0x83f, true, x2apic_write_harmful);
	}

	/* IA32_APIC_BASE. */
	u64 base = rdmsr(MSR_APIC_BASE);
	info("IA32_APIC_BASE = 0x%lx, MAXPHYADDR %u", base, maxphyaddr());
	v = safe_wrmsr(MSR_APIC_BASE, base);
	x = rdmsr(MSR_APIC_BASE);
	check("msr_apic_base_rewrite", v < 0 && x == base,
	      "writing IA32_APIC_BASE back (0x%lx) gave vector %d, reads 0x%lx", base, v, x);

	if (!check_need_hv("msr_apic_base_relocation_ignored")) {
		u64 moved = (base & 0xfff) | 0xfe000000ull;
		v = safe_wrmsr(MSR_APIC_BASE, moved);
		x = rdmsr(MSR_APIC_BASE);
		u32 id = 0;
		int rid = read32(0xfee00020, &id);
		if (x != base)
			safe_wrmsr(MSR_APIC_BASE, base);
		check("msr_apic_base_relocation_ignored", v < 0 && x == base && rid < 0 &&
		      id >> 24 == (smp_cpus[0].apic_id & 0xff),
		      "IA32_APIC_BASE := 0x%lx gave vector %d, reads 0x%lx (want 0x%lx), LAPIC ID at "
		      "0xfee00020 reads 0x%x (vector %d), want APIC ID %u", moved, v, x, base, id,
		      rid, smp_cpus[0].apic_id);
	}

	/* Illegal mode changes and reserved bits: #GP, unchanged. */
	u64 illegal[8] = { (base & ~(1ull << 11)) | (1ull << 10),    /* x2APIC without enable */
			   base | (1ull << 9), base | 0xffull, base | (1ull << 63) };
	u32 nill = 4;
	if (maxphyaddr() < 52)
		illegal[nill++] = base | (1ull << maxphyaddr());
	if (random_mode)
		illegal[nill++] = base | (1ull << (52 + rnd_below(12)));
	bad = 0;
	for (u32 i = 0; i < nill; i++) {
		v = safe_wrmsr(MSR_APIC_BASE, illegal[i]);
		x = rdmsr(MSR_APIC_BASE);
		if (v != 13 || x != base) {
			if (x != base)
				safe_wrmsr(MSR_APIC_BASE, base);
			if (!bad++)
				snprintf(first, sizeof(first), "0x%lx: %s, reads 0x%lx", illegal[i],
					 v < 0 ? "completed" : vector_name((unsigned)v), x);
		}
	}
	check("msr_apic_base_illegal_gp", !bad, "%u illegal IA32_APIC_BASE values without #GP "
	      "or changed it; first: %s", bad, first);
}
