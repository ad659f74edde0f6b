/* The hypervisor as the guest sees it: detection through CPUID, and the
 * FOOTPRINT hypercall that several scenarios need. */
#include "guest.h"

struct hv_info hv;

static void sig_copy(char out[13], u32 b, u32 c, u32 d)
{
	u32 r[3] = { b, c, d };
	memcpy(out, r, 12);
	for (int i = 0; i < 12; i++)
		if (out[i] < 0x20 || out[i] > 0x7e || out[i] == '\'')
			out[i] = '.';
	out[12] = '\0';
}

void hv_detect(void)
{
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	hv.cpuid1_ecx = c;
	cpuid(HVABI_CPUID_VENDOR_LEAF, 0, &a, &b, &c, &d);
	hv.max_leaf = a;
	sig_copy(hv.signature, b, c, d);
	bool sig_ok = b == HVABI_SIG_EBX && c == HVABI_SIG_ECX && d == HVABI_SIG_EDX;
	bool bit = hv.cpuid1_ecx & HVABI_CPUID1_ECX_HYPERVISOR;
	if (sig_ok && hv.max_leaf >= HVABI_CPUID_VERSION_LEAF) {
		cpuid(HVABI_CPUID_VERSION_LEAF, 0, &a, &b, &c, &d);
		hv.abi_version = a;
	}
	hv.present = bit && sig_ok;
	if (!bit)
		snprintf(hv.absent_why, sizeof(hv.absent_why),
			 "no hypervisor present (CPUID.1:ECX[31]=0)");
	else if (!sig_ok)
		snprintf(hv.absent_why, sizeof(hv.absent_why),
			 "no hypervisor present (CPUID 0x40000000 signature '%s', "
			 "not '" HVABI_SIGNATURE "')", hv.signature);
}

bool hv_footprint(u64 *start, u64 *end, const char **why)
{
	static char buf[128];
	if (!hv.present) {
		*why = hv.absent_why;
		return false;
	}
	struct vmcall_regs r = { .rax = HVABI_VMCALL_FOOTPRINT };
	int v = vmcall_regs(&r);
	if (v >= 0) {
		snprintf(buf, sizeof(buf), "VMCALL FOOTPRINT raised %s (vector %d, error 0x%lx)",
			 vector_name(v), v, fault_error());
		*why = buf;
		return false;
	}
	if ((u32)r.rax != HVABI_OK || r.rbx >= r.rcx) {
		snprintf(buf, sizeof(buf), "VMCALL FOOTPRINT gave eax=0x%x start=0x%lx end=0x%lx",
			 (u32)r.rax, r.rbx, r.rcx);
		*why = buf;
		return false;
	}
	*start = r.rbx;
	*end = r.rcx;
	return true;
}

int hv_nmi_stats(struct hv_nmi_stats *st)
{
	struct vmcall_regs r = { .rax = HVABI_VMCALL_DIAG_NMI_STATS };
	int v = vmcall_regs(&r);
	st->status = (u32)r.rax;
	st->injected = r.rbx;
	st->merged = r.rcx;
	st->quiesce_answered = r.rdx;
	return v;
}

void hv_quiesce(u32 x, u64 want_rbx, struct hv_quiesce_tally *q)
{
	struct vmcall_regs r = { .rax = HVABI_VMCALL_DIAG_QUIESCE, .rcx = x };
	int v = vmcall_regs(&r);
	q->calls++;
	if (v >= 0) {
		if (!q->faults++)
			q->vector = v;
		return;
	}
	if ((u32)r.rax == HVABI_OK && r.rbx == want_rbx && (u32)r.rcx == x + 1)
		return;
	if (!q->bad++) {
		q->x = x;
		q->eax = (u32)r.rax;
		q->rbx = r.rbx;
		q->ecx = (u32)r.rcx;
	}
}

void hv_quiesce_why(const struct hv_quiesce_tally *q, u64 want_rbx, char *why, size_t n)
{
	why[0] = '\0';
	if (q->faults)
		snprintf(why, n, "%u of %u DIAG_QUIESCE VMCALLs raised an exception (first: %s, "
			 "vector %d)", q->faults, q->calls, vector_name(q->vector), q->vector);
	else if (q->bad)
		snprintf(why, n, "%u of %u DIAG_QUIESCE calls answered wrongly; first: ecx=0x%x gave "
			 "eax=0x%x rbx=%lu ecx=0x%x, want eax=0 rbx=%lu ecx=0x%x%s", q->bad, q->calls,
			 q->x, q->eax, q->rbx, q->ecx, want_rbx, q->x + 1,
			 q->eax == HVABI_ERR_QUIESCE ? " (HVABI_ERR_QUIESCE: section not exclusive)" : "");
}
