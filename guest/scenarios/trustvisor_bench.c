/* trustvisor_bench: what a PAL costs (issue 13, `make bench`,
 * bench/bench_pal.py). Times tvbench_n (default 200) of each, back to
 * back on this CPU: a VMCALL round trip twice, HVABI PING (which also
 * prints a console line in the hypervisor) and DIAG_EXITS (which only
 * reads a counter: the bare round trip), a call of a
 * registered PAL (tvp_bad mode 4: two integer parameters in, 77 back), and
 * a REG + UNREG pair of that PAL. For each phase it prints the TSC ticks
 * and this vCPU's VM exits (DIAG_EXITS before and after; the one DIAG
 * call inside the window is taken off). Every result is checked, so a
 * broken hypervisor fails the bench instead of timing errors. Explicit:
 * not part of scenarios=all (it only measures). */
#include "tvpal.h"
#include "tvabi.h"

#define PG 4096

static u8 bench_mem[2 * PG] __attribute__((aligned(PG)));   /* CODE, DATA */
static u8 bench_stack[PG] __attribute__((aligned(PG)));
static u8 bench_param[PG] __attribute__((aligned(PG)));
static struct tv_pal_sections secs;
static struct tv_pal_params params;

static u32 tv_call(u32 cmd, u64 rcx, u64 rsi, u64 rdi)
{
	struct vmcall_regs r = { .rax = cmd, .rcx = rcx, .rsi = rsi, .rdi = rdi };
	return vmcall_regs(&r) < 0 ? (u32)r.rax : 0xdeadbeef;
}

static u64 exits_now(void)
{
	struct vmcall_regs r = { .rax = HVABI_VMCALL_DIAG_EXITS };
	return vmcall_regs(&r) < 0 && (u32)r.rax == HVABI_OK ? r.rbx : 0;
}

/* Registers the template's two pages (its code counts on the DATA page
 * following the CODE page), a stack and a PARAM page; two integers. */
static u32 reg(void)
{
	tvp_sections(&secs, bench_mem, bench_stack, bench_param);
	params = (struct tv_pal_params){ .num_params = 2 };
	params.params[0] = (struct tv_pal_param){ TV_PAL_PM_INTEGER, 0, 8 };
	params.params[1] = (struct tv_pal_param){ TV_PAL_PM_INTEGER, 0, 8 };
	return tv_call(TV_HC_REG, (u64)&secs, (u64)&params,
		       (u64)bench_mem + TVP_OFF(tvp_bad));
}

struct phase { u64 t0, e0; };

static void phase_start(struct phase *p)
{
	p->e0 = exits_now();
	p->t0 = rdtsc();
}

/* One line per phase for bench/bench_pal.py. */
static void phase_end(struct phase *p, const char *name, u32 n, u32 bad)
{
	u64 ticks = rdtsc() - p->t0;
	u64 exits = exits_now() - p->e0 - 1;    /* one of the two DIAG calls */
	printf("INFO tvbench: %s n=%u ticks=%lu exits=%lu\n", name, n, ticks, exits);
	check(name, !bad, "%u of %u %s gave a wrong result", bad, n, name);
}

static void run(void)
{
	if (check_need_hv("vmcall"))
		return;
	u32 n = (u32)cmdline_u64("tvbench_n", 200), bad = 0;
	u64 entry = (u64)bench_mem + TVP_OFF(tvp_bad);
	struct phase p;
	printf("INFO tvbench: tsc_khz=%lu\n", tsc_khz());

	phase_start(&p);
	for (u32 i = 0; i < n; i++) {
		struct vmcall_regs r = { .rax = HVABI_VMCALL_PING, .rcx = i };
		if (vmcall_regs(&r) >= 0 || (u32)r.rbx != HVABI_PING_MAGIC || r.rcx != i + 1)
			bad++;
	}
	phase_end(&p, "vmcall", n, bad);

	bad = 0;
	u64 last = 0;
	phase_start(&p);
	for (u32 i = 0; i < n; i++) {
		u64 e = exits_now();
		if (e <= last)
			bad++;
		last = e;
	}
	phase_end(&p, "vmcall_bare", n, bad);

	u32 rc = reg();
	check("reg", rc == TV_OK, "REG gave eax=0x%x", rc);
	if (rc != TV_OK)
		return;
	bad = 0;
	phase_start(&p);
	for (u32 i = 0; i < n; i++)
		if (tvp_call(entry, 4, i, 0) != 77 || tvp_regs_bad)
			bad++;
	phase_end(&p, "pal_call", n, bad);
	rc = tv_call(TV_HC_UNREG, entry, 0, 0);
	check("unreg", rc == TV_OK, "UNREG gave eax=0x%x", rc);

	bad = 0;
	phase_start(&p);
	for (u32 i = 0; i < n; i++)
		if (reg() != TV_OK || tv_call(TV_HC_UNREG, entry, 0, 0) != TV_OK)
			bad++;
	phase_end(&p, "reg_unreg", n, bad);
}

SCENARIO_EXPLICIT(64, trustvisor_bench, run, "TrustVisor bench: N VMCALL round trips, PAL "
		  "calls and REG+UNREG pairs, TSC ticks and VM exits for each");
