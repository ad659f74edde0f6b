/* MSRs: IA32_FEATURE_CONTROL reads locked with VMX disabled and refuses
 * writes; the VMX capability MSRs do not exist for the guest (#GP). */
#include "../guest.h"

static void run(void)
{
	u64 fc = 0;
	int v = safe_rdmsr(HVABI_MSR_FEATURE_CONTROL, &fc);
	if (v < 0)
		info("IA32_FEATURE_CONTROL = 0x%lx", fc);
	else
		info("IA32_FEATURE_CONTROL read raised %s", vector_name(v));

	if (!check_need_hv("feature_control")) {
		if (v >= 0)
			check_fail("feature_control", "rdmsr 0x3a raised %s (vector %d)",
				   vector_name(v), v);
		else
			check("feature_control",
			      (fc & HVABI_FC_LOCK) &&
			      !(fc & (HVABI_FC_VMX_IN_SMX | HVABI_FC_VMX_OUTSIDE_SMX)),
			      "IA32_FEATURE_CONTROL=0x%lx, want lock=1 and bits 1,2 = 0", fc);
	}

	if (!check_need_hv("feature_control_write_gp")) {
		int w = safe_wrmsr(HVABI_MSR_FEATURE_CONTROL, fc | HVABI_FC_VMX_OUTSIDE_SMX);
		u64 after = 0;
		safe_rdmsr(HVABI_MSR_FEATURE_CONTROL, &after);
		check("feature_control_write_gp", w == 13 && !(after & HVABI_FC_VMX_OUTSIDE_SMX),
		      "wrmsr 0x3a (setting VMX enable) gave vector %d, reads 0x%lx after; "
		      "want #GP and no change", w, after);
	}

	if (!check_need_hv("vmx_basic_gp")) {
		u64 basic = 0;
		int r = safe_rdmsr(HVABI_MSR_VMX_FIRST, &basic);
		if (r < 0)
			check_fail("vmx_basic_gp", "rdmsr IA32_VMX_BASIC (0x480) returned 0x%lx, "
				   "want #GP(0)", basic);
		else
			check("vmx_basic_gp", r == 13 && fault_error() == 0,
			      "rdmsr IA32_VMX_BASIC (0x480) raised vector %d error 0x%lx, "
			      "want #GP(0)", r, fault_error());
	}

	if (!check_need_hv("vmx_caps_gp")) {
		u32 bad = 0, first = 0;
		for (u32 m = HVABI_MSR_VMX_FIRST; m <= HVABI_MSR_VMX_LAST; m++) {
			u64 x;
			if (safe_rdmsr(m, &x) != 13 && !bad++)
				first = m;
		}
		check("vmx_caps_gp", !bad,
		      "%u of the VMX capability MSRs 0x%x..0x%x read without #GP (first 0x%x)",
		      bad, HVABI_MSR_VMX_FIRST, HVABI_MSR_VMX_LAST, first);
	}
}

SCENARIO(20, msr, run, "IA32_FEATURE_CONTROL locked without VMX; VMX MSRs raise #GP");
