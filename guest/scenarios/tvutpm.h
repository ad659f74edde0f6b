/* Helpers of the micro-TPM scenarios (trustvisor_utpm.c, trustvisor_utpm_pal.c). */
#ifndef GUEST_SCENARIOS_TVUTPM_H
#define GUEST_SCENARIOS_TVUTPM_H
#include "../guest.h"

/* A TrustVisor VMCALL; its EAX, or 0xdeadbeef if it raised an exception. */
static inline u32 tvu_vmcall(u32 cmd, u64 rcx, u64 rdx, u64 rsi, u64 rdi)
{
	struct vmcall_regs r = { .rax = cmd, .rcx = rcx, .rdx = rdx, .rsi = rsi, .rdi = rdi };
	return vmcall_regs(&r) < 0 ? (u32)r.rax : 0xdeadbeef;
}

/* "TVQUOTE <what> <hex>": what the host's tests verify a quote from
 * (tests/system/test_trustvisor_utpm.py). */
static inline void tvu_print_hex(const char *what, const u8 *p, u32 n)
{
	static char hex[2 * 256 + 1];
	if (n > 256)
		n = 256;
	for (u32 i = 0; i < n; i++) {
		hex[2 * i] = "0123456789abcdef"[p[i] >> 4];
		hex[2 * i + 1] = "0123456789abcdef"[p[i] & 15];
	}
	hex[2 * n] = 0;
	printf("TVQUOTE %s %s\n", what, hex);
}
#endif
