/* CPUID as the hypervisor presents it: hypervisor bit set, VMX hidden, the
 * vendor leaf 0x40000000 with our signature, the ABI version leaf. */
#include "../guest.h"

static void run(void)
{
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	info("CPUID.1: ECX=0x%08x (hypervisor bit %u, VMX bit %u)", c,
	     !!(c & HVABI_CPUID1_ECX_HYPERVISOR), !!(c & HVABI_CPUID1_ECX_VMX));
	info("CPUID 0x40000000: max leaf 0x%x, signature '%s'", hv.max_leaf, hv.signature);

	if (!check_need_hv("hypervisor_bit"))
		check("hypervisor_bit", c & HVABI_CPUID1_ECX_HYPERVISOR,
		      "CPUID.1:ECX[31]=0");
	if (!check_need_hv("vmx_hidden"))
		check("vmx_hidden", !(c & HVABI_CPUID1_ECX_VMX),
		      "CPUID.1:ECX[5] (VMX) reads 1");
	if (!check_need_hv("vendor_leaf")) {
		cpuid(HVABI_CPUID_VENDOR_LEAF, 0, &a, &b, &c, &d);
		check("vendor_leaf", a == HVABI_CPUID_MAX_LEAF && b == HVABI_SIG_EBX &&
		      c == HVABI_SIG_ECX && d == HVABI_SIG_EDX,
		      "leaf 0x40000000 eax=0x%x ebx=0x%x ecx=0x%x edx=0x%x, want eax=0x%x '"
		      HVABI_SIGNATURE "'", a, b, c, d, HVABI_CPUID_MAX_LEAF);
	}
	if (!check_need_hv("abi_version")) {
		cpuid(HVABI_CPUID_VERSION_LEAF, 0, &a, &b, &c, &d);
		check("abi_version", a == HVABI_VERSION,
		      "leaf 0x40000001 eax=%u, want %u", a, HVABI_VERSION);
	}
}

SCENARIO(10, cpuid, run, "hypervisor bit set, VMX hidden, vendor leaf 0x40000000");
