#include "hostile.h"
#include "tvabi.h"

/* ==== 1. VMCALL ================================================================== */
struct vmcall_verdict { u32 bad; char first[200]; };

static bool known_fn(u32 fn)
{
	return fn == HVABI_VMCALL_PING || fn == HVABI_VMCALL_FOOTPRINT || fn == HVABI_VMCALL_PRINT ||
	       fn == HVABI_VMCALL_DIAG_EXITS || fn == HVABI_VMCALL_DIAG_QUIESCE ||
	       fn == HVABI_VMCALL_DIAG_NMI_STATS;
}

static void vmcall_one(struct vmcall_regs *in, struct vmcall_verdict *vd)
{
	struct vmcall_regs r = *in;
	u32 fn = (u32)in->rax;
	int v = vmcall_regs(&r);
	const char *bad = NULL;
	char tmp[120];
	if (v >= 0) {
		snprintf(tmp, sizeof(tmp), "raised %s (vector %d)", vector_name((unsigned)v), v);
		bad = tmp;
	} else if ((fn != HVABI_VMCALL_DIAG_NMI_STATS && r.rdx != in->rdx) || r.rsi != in->rsi || r.rdi != in->rdi || r.rbp != in->rbp ||
		   r.r8 != in->r8 || r.r9 != in->r9 || r.r10 != in->r10 || r.r11 != in->r11 ||
		   r.r12 != in->r12 || r.r13 != in->r13 || r.r14 != in->r14 || r.r15 != in->r15) {
		bad = "changed a GPR that is not an output (RDX..R15; RDX is one for DIAG_NMI_STATS)";
	} else {
		u32 eax = (u32)r.rax;
		bool ok;
		switch (fn) {
		case HVABI_VMCALL_PING:
			ok = eax == HVABI_OK && (u32)r.rbx == HVABI_PING_MAGIC &&
			     (u32)r.rcx == (u32)in->rcx + 1;
			break;
		case HVABI_VMCALL_PRINT:
			ok = eax == HVABI_OK || eax == HVABI_ERR_BADARG;
			break;
		case HVABI_VMCALL_DIAG_QUIESCE:
			ok = eax == HVABI_OK || eax == HVABI_ERR_QUIESCE;
			break;
		case HVABI_VMCALL_FOOTPRINT:
		case HVABI_VMCALL_DIAG_EXITS:
		case HVABI_VMCALL_DIAG_NMI_STATS:
			ok = eax == HVABI_OK;
			break;
		default:
			/* TrustVisor's commands (1-255) answer random arguments
			 * with one of its error codes (abi/tvabi.h), TEST with 0. */
			if (fn >= TV_HC_REG && fn <= TV_HC_TEST)
				ok = eax <= TV_ERR_SEAL_PCR || eax == TV_ERR_UNKNOWN;
			else
				ok = eax == HVABI_ERR_UNKNOWN;
		}
		if (!ok) {
			snprintf(tmp, sizeof(tmp), "returned eax=0x%x%s", eax,
				 known_fn(fn) ? " (a known function answered wrong)" :
				 ", want HVABI_ERR_UNKNOWN 0xffffffff");
			bad = tmp;
		}
	}
	if (bad && !vd->bad++)
		snprintf(vd->first, sizeof(vd->first), "rax=0x%lx rbx=0x%lx: %s", in->rax, in->rbx, bad);
}

static u64 random_pointer(void)
{
	switch (rnd_below(3)) {
	case 0: return rnd_below(IDENTITY_MAP_END);
	case 1: return rnd_below(0x10000000);     /* mostly RAM */
	default: return rnd();
	}
}

static void random_regs(struct vmcall_regs *r)
{
	*r = (struct vmcall_regs){ .rbx = rnd(), .rcx = rnd(), .rdx = rnd(), .rsi = rnd(),
				   .rdi = rnd(), .rbp = 0xb0b0b0b0b0b0b0b0ull,
				   .r8 = 0x0808080808080808ull, .r9 = 0x0909090909090909ull,
				   .r10 = rnd(), .r11 = rnd(), .r12 = 0x1212121212121212ull,
				   .r13 = rnd(), .r14 = 0x1414141414141414ull, .r15 = rnd() };
}

void class_vmcall(void)
{
	if (!check_need_hv("vmcall_sweep")) {
		struct vmcall_verdict vd = { 0 };
		for (u32 i = 0; i <= 0x20f + 0x10; i++) {
			/* 0..0x20f (TrustVisor's and diag's), then the core's first 16 */
			u32 fn = i <= 0x20f ? i : HVABI_VMCALL_CORE_FIRST + (i - 0x210);
			struct vmcall_regs r;
			random_regs(&r);
			r.rax = fn;
			if (fn == HVABI_VMCALL_PRINT)
				r.rbx = random_pointer();
			vmcall_one(&r, &vd);
		}
		check("vmcall_sweep", !vd.bad, "%u of the functions 0..0x20f and 0x%x..0x%x answered "
		      "wrong; first: %s", vd.bad, HVABI_VMCALL_CORE_FIRST, HVABI_VMCALL_CORE_FIRST + 0xf,
		      vd.first);
	}
	if (!check_need_hv("vmcall_random")) {
		u32 n = (u32)cmdline_u64("hostile_vmcalls", 2000);
		struct vmcall_verdict vd = { 0 };
		for (u32 i = 0; i < n; i++) {
			struct vmcall_regs r;
			random_regs(&r);
			switch (rnd_below(5)) {
			case 0: r.rax = rnd_below(0x210); break;
			case 4: r.rax = HVABI_VMCALL_CORE_FIRST + rnd_below(0x10); break;
			case 1: r.rax = (rnd() & ~0xffffffffull) | rnd_below(0x210); break;
			default: r.rax = rnd(); break;
			}
			if ((u32)r.rax == HVABI_VMCALL_PRINT)
				r.rbx = random_pointer();
			vmcall_one(&r, &vd);
		}
		check("vmcall_random", !vd.bad, "%u of %u random VMCALLs answered wrong; first: %s",
		      vd.bad, n, vd.first);
	}
}
