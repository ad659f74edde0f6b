/* Bare-metal counterpart of `vmcall`: without a hypervisor (and outside VMX
 * operation) VMCALL raises #UD. Checks that the guest's VMCALL helper
 * catches it and that every register comes back as it was loaded -- the
 * helper the `vmcall` scenario relies on, tested where no hypervisor runs.
 * Only when named (scenarios=vmcall_ud); under the hypervisor it FAILs. */
#include "../guest.h"

static void run(void)
{
	struct vmcall_regs r, want;
	u64 *w = &want.rax;
	for (unsigned i = 0; i < sizeof(want) / 8; i++)
		w[i] = 0x0101010101010101ull * (i + 1) ^ 0x8000000000000000ull;
	want.rax = 0x7fff0000;               /* an unknown function, just in case */
	r = want;
	int v = vmcall_regs(&r);
	check("raises_ud", v == 6, v < 0 ? "VMCALL completed (eax=0x%lx): a hypervisor answered"
	      : "VMCALL raised vector %ld, want 6 (#UD)", v < 0 ? r.rax : (u64)v);
	int bad = -1;
	for (unsigned i = 0; i < sizeof(want) / 8 && bad < 0; i++)
		if ((&r.rax)[i] != w[i])
			bad = (int)i;
	check("regs_intact", bad < 0, "register #%d (rax=0, rbx, rcx, rdx, rsi, rdi, rbp, r8..) "
	      "changed 0x%lx -> 0x%lx", bad, bad < 0 ? 0 : w[bad], bad < 0 ? 0 : (&r.rax)[bad]);
}

SCENARIO_EXPLICIT(90, vmcall_ud, run, "bare only: VMCALL raises #UD, registers intact");
