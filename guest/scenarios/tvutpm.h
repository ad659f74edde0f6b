/* Helpers of the micro-TPM scenarios (trustvisor.c, trustvisor_utpm.c,
 * trustvisor_utpm_pal.c). */
#ifndef GUEST_SCENARIOS_TVUTPM_H
#define GUEST_SCENARIOS_TVUTPM_H
#include "../guest.h"

/* SHA-1("abc") (FIPS 180-2 A.1), and SHA-1(20 zero bytes || it), from
 * Python's hashlib: an extend of a fresh PCR with the first must give
 * exactly the second. */
static const u8 tvu_sha1_abc[20] = {
	0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e,
	0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d };
static const u8 tvu_extended_abc[20] = {
	0xcc, 0xd5, 0xbd, 0x41, 0x45, 0x8d, 0xe6, 0x44, 0xac, 0x34,
	0xa2, 0x47, 0x8b, 0x58, 0xff, 0x81, 0x9b, 0xef, 0x5a, 0xcf };

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
