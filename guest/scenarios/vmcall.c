/* The hypercall interface: PING round trip, register preservation, unknown
 * functions, FOOTPRINT sanity, PRINT with good and bad input. */
#include "../guest.h"

/* Distinct values for every register VMCALL must not touch. */
static const struct vmcall_regs sentinel = {
	.rdx = 0xd0d0d0d0d0d0d0d0ull, .rsi = 0x5151515151515151ull,
	.rdi = 0xd1d1d1d1d1d1d1d1ull, .rbp = 0xb0b0b0b0b0b0b0b0ull,
	.r8 = 0x0808080808080808ull,  .r9 = 0x0909090909090909ull,
	.r10 = 0x1010101010101010ull, .r11 = 0x1111111111111111ull,
	.r12 = 0x1212121212121212ull, .r13 = 0x1313131313131313ull,
	.r14 = 0x1414141414141414ull, .r15 = 0x1515151515151515ull,
};

static char print_buf[2 * 4096] __attribute__((aligned(4096)));

/* VMCALL; false (with a FAIL line) if it raised an exception. */
static bool call(const char *chk, struct vmcall_regs *r)
{
	int v = vmcall_regs(r);
	if (v < 0)
		return true;
	check_fail(chk, "VMCALL eax=0x%lx raised %s (vector %d, error 0x%lx)",
		   r->rax, vector_name(v), v, fault_error());
	return false;
}

static void print_call(const char *chk, u64 addr, u32 want, const char *what)
{
	if (check_need_hv(chk))
		return;
	struct vmcall_regs r = { .rax = HVABI_VMCALL_PRINT, .rbx = addr };
	if (call(chk, &r))
		check(chk, (u32)r.rax == want, "PRINT of %s (rbx=0x%lx) returned eax=0x%x, want 0x%x",
		      what, addr, (u32)r.rax, want);
}

static void run(void)
{
	struct vmcall_regs r;

	if (!check_need_hv("ping")) {
		r = sentinel;
		r.rax = HVABI_VMCALL_PING;
		r.rbx = 0;
		r.rcx = 0x12345678;
		if (call("ping", &r))
			check("ping", (u32)r.rax == HVABI_OK && (u32)r.rbx == HVABI_PING_MAGIC &&
			      (u32)r.rcx == 0x12345679,
			      "PING(ecx=0x12345678) gave eax=0x%x ebx=0x%x ecx=0x%x, want 0, "
			      "0x%x, 0x12345679", (u32)r.rax, (u32)r.rbx, (u32)r.rcx,
			      HVABI_PING_MAGIC);
	}

	if (!check_need_hv("regs_preserved")) {
		r = sentinel;
		r.rax = HVABI_VMCALL_PING;
		r.rcx = 0xffffffff;               /* and the 32-bit wrap-around */
		if (call("regs_preserved", &r)) {
			const u64 *got = &r.rdx, *want = &sentinel.rdx;
			static const char *const names[] = { "rdx", "rsi", "rdi", "rbp", "r8", "r9",
				"r10", "r11", "r12", "r13", "r14", "r15" };
			int bad = -1;
			for (int i = 0; i < 12 && bad < 0; i++)
				if (got[i] != want[i])
					bad = i;
			if (bad >= 0)
				check_fail("regs_preserved", "%s changed 0x%lx -> 0x%lx across PING",
					   names[bad], want[bad], got[bad]);
			else
				check("regs_preserved", (u32)r.rcx == 0,
				      "PING(ecx=0xffffffff) gave ecx=0x%x, want 0 (wrap-around)",
				      (u32)r.rcx);
		}
	}

	if (!check_need_hv("unknown_function")) {
		r = (struct vmcall_regs){ .rax = 0x7fff1234 };
		if (call("unknown_function", &r))
			check("unknown_function", (u32)r.rax == HVABI_ERR_UNKNOWN,
			      "function 0x7fff1234 returned eax=0x%x, want 0x%x", (u32)r.rax,
			      HVABI_ERR_UNKNOWN);
	}

	u64 fstart = 0, fend = 0;
	bool have_fp = false;
	if (!check_need_hv("footprint")) {
		const char *why;
		have_fp = hv_footprint(&fstart, &fend, &why);
		if (!have_fp)
			check_fail("footprint", "%s", why);
		else
			check("footprint", !(fstart & 0xfff) && !(fend & 0xfff) &&
			      fstart >= 0x100000 && fend > fstart,
			      "footprint [0x%lx, 0x%lx) is not page-aligned above 1 MiB", fstart, fend);
	}

	static const char hello[] = "guest: hello through VMCALL PRINT";
	memcpy(print_buf, hello, sizeof(hello));
	print_call("print_good", (u64)print_buf, HVABI_OK, "a good string");
	static const char cross[] = "guest: PRINT of a string that crosses a page boundary";
	char *at = print_buf + 4096 - 16;
	memcpy(at, cross, sizeof(cross));
	print_call("print_cross_page", (u64)at, HVABI_OK, "a string crossing a page");
	print_call("print_bad_address", 0xFFFFFFFFF000ull, HVABI_ERR_BADARG, "an unmapped address");

	memset(print_buf, 'x', HVABI_PRINT_MAX + 16);       /* no NUL in 256 bytes */
	print_call("print_too_long", (u64)print_buf, HVABI_ERR_BADARG, "a string without NUL");

	if (!check_need_hv("print_footprint")) {
		if (!have_fp)
			check_fail("print_footprint", "no footprint to aim at (see vmcall.footprint)");
		else
			print_call("print_footprint", fstart, HVABI_ERR_BADARG,
				   "the hypervisor's own memory");
	}
}

SCENARIO(60, vmcall, run, "PING, register preservation, unknown function, FOOTPRINT, PRINT");
