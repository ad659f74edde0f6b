/* For the GDB stub's system test (tests/system/test_gdbstub.py), which
 * drives gdb against the hypervisor while this runs: every CPU keeps its
 * own DR0 execute breakpoint armed across VM exits (CPUIDs) and one VMCALL
 * each, while gdb has a hardware watchpoint of the hypervisor's armed; the
 * breakpoint must fire every time (the hypervisor switches the debug
 * registers on exit and entry). Then the BSP spins without exits, for
 * gdb's break-in. No deadlines: gdb stops the machine for as long as it
 * likes, and the test has its own timeout. */
#include "../guest.h"
#include "../smp.h"

#define ROUNDS 200
#define MAXC 8

static volatile u32 hits[MAXC], calls[MAXC], vmcalls_ok[MAXC];
static volatile u64 spin_sink;

__attribute__((noinline)) void gdb_dr_target(void);
__attribute__((noinline)) void gdb_dr_target(void) { asm volatile("nop" ::: "memory"); }

static bool db_hook(struct trap_frame *f)
{
	if (f->rip != (u64)gdb_dr_target)
		return false;
	hits[this_cpu()->index % MAXC]++;
	asm volatile("mov %0, %%dr6" :: "r"(0xffff0ff0ull));
	f->rflags |= 1ull << 16;             /* RF: past the breakpoint */
	return true;
}

static void exit_once(void)
{
	u32 a = 0, b, c = 0, d;
	asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) :: "memory");
}

static void job_dr(void *arg)
{
	u32 me = this_cpu()->index % MAXC;
	asm volatile("mov %0, %%dr0" :: "r"((u64)gdb_dr_target));
	asm volatile("mov %0, %%dr7" :: "r"(0x401ull));     /* L0, execute, 1 byte */
	for (u32 i = 0; i < 2 * ROUNDS; i++) {
		if (i == ROUNDS) {
			struct vmcall_regs r = { .rax = HVABI_VMCALL_PING };
			if (vmcall_regs(&r) < 0 && (u32)r.rax == HVABI_OK)
				vmcalls_ok[me]++;
		}
		gdb_dr_target();
		calls[me]++;
		exit_once();
	}
	asm volatile("mov %0, %%dr7" :: "r"(0x400ull));
}

static void run(void)
{
	char why[160];
	if (check_need_hv("dr_kept"))
		return;
	if (!smp_ensure_up(why, sizeof(why))) {
		check_fail("smp_up", "%s", why);
		return;
	}
	u32 n = smp_ncpus < MAXC ? smp_ncpus : MAXC;
	trap_set_hook(1, db_hook);
	for (u32 c = 1; c < n; c++)
		smp_post(c, job_dr, NULL);
	job_dr(NULL);
	for (u32 c = 1; c < n; c++)
		smp_wait_job(c, ~0ull);
	trap_set_hook(1, NULL);
	bool ok = true;
	for (u32 c = 0; c < n; c++) {
		if (hits[c] != calls[c] || calls[c] != 2 * ROUNDS || vmcalls_ok[c] != 1)
			ok = false;
		info("cpu%u: DR0 fired %u times for %u calls, VMCALLs %u", c, hits[c], calls[c],
		     vmcalls_ok[c]);
	}
	check("dr_kept", ok, "a CPU's own DR0 breakpoint missed (see the counts above)");
	info("GDB SPIN");
	for (u64 i = 0; i < 400000000ull; i++)   /* no exits: only the preemption timer */
		spin_sink += i;
	check_pass("spin_done");
}

SCENARIO_EXPLICIT(90, gdb, run,
		  "a CPU's own DR0 breakpoint keeps firing while gdb watches the hypervisor; a spin for break-in");
