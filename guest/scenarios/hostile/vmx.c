#include "hostile.h"

/* ==== 2. VMX instructions: #UD ===================================================== */
static u8 vmx_page[4096] __attribute__((aligned(4096)));

static int vmx_insn(int i)
{
	u64 pa = (u64)vmx_page, out = 0, field = 0x4400 /* VM_INSTRUCTION_ERROR */, val = 0;
	struct { u64 a, b; } desc = { 0, 0 };
	switch (i) {
	case 0: return TRY("vmxon %0", :: "m"(pa) : "memory");
	case 1: return TRY("vmptrld %0", :: "m"(pa) : "memory");
	case 2: return TRY("vmread %1, %0", : "+r"(out) : "r"(field) : "memory", "cc");
	case 3: return TRY("vmwrite %0, %1", :: "r"(val), "r"(field) : "memory", "cc");
	case 4: return TRY("vmclear %0", :: "m"(pa) : "memory");
	case 5: return TRY("vmlaunch", ::: "memory", "cc");
	case 6: return TRY("vmresume", ::: "memory", "cc");
	case 7: return TRY("vmxoff", ::: "memory", "cc");
	case 8: return TRY("invept %0, %1", :: "m"(desc), "r"(2ull) : "memory", "cc");
	case 9: return TRY("invvpid %0, %1", :: "m"(desc), "r"(2ull) : "memory", "cc");
	case 10: return TRY("vmptrst %0", : "=m"(out) :: "memory");
	default: return TRY("vmfunc", :: "a"(0), "c"(0) : "memory");
	}
}

void class_vmx(void)
{
	static const char *const names[] = { "vmxon", "vmptrld", "vmread", "vmwrite", "vmclear",
		"vmlaunch", "vmresume", "vmxoff", "invept", "invvpid", "vmptrst", "vmfunc" };
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	info("CPUID.1:ECX.VMX = %u, CR4 = 0x%lx", c >> 5 & 1, read_cr4());
	for (int i = 0; i < (int)ARRAY_SIZE(names); i++) {
		char chk[32];
		snprintf(chk, sizeof(chk), "vmx_%s_ud", names[i]);
		int v = vmx_insn(i);
		check(chk, v == 6, "%s %s, want #UD", names[i],
		      v < 0 ? "completed" : vector_name((unsigned)v));
	}
}
