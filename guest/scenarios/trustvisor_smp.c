/* trustvisor_smp: a registered PAL's pages are gone on every CPU, not just
 * the registering one, even where that CPU had just used them (its cached
 * translations must have been flushed); and TEST loops on every CPU at once
 * (each one quiesces all the others) all answer 0 and finish (the seed
 * notes' T5); a PAL called over and over on one CPU while the other keeps
 * running, each way round; a PAL's call, UNREG and SHARE refused from one
 * CPU while it runs on the other. Explicit: needs the APs started (smp_ensure_up). */
#include "../smp.h"
#include "tvabi.h"
#include "tvpal.h"

#define PG 4096

static u8 pal_code[PG] __attribute__((aligned(PG)));
static u8 pal_data[PG] __attribute__((aligned(PG)));
static struct tv_pal_sections secs;
static struct tv_pal_params params;
static char why[256];

struct probe { u64 addr, val; int vector; };

static void job_read(void *arg)
{
	struct probe *p = arg;
	p->val = 0;
	p->vector = safe_read64(p->addr, &p->val);
}

static u32 tv_call(u32 cmd, u64 rcx, u64 rsi, u64 rdi)
{
	struct vmcall_regs r = { .rax = cmd, .rcx = rcx, .rsi = rsi, .rdi = rdi };
	return vmcall_regs(&r) < 0 ? (u32)r.rax : 0xdeadbeef;
}

static void isolation_on_other_cpu(void)
{
	u64 entry = (u64)pal_code;
	struct probe p = { .addr = (u64)pal_data + 8 };
	memset(pal_code, 0xc3, PG);
	memset(pal_data, 0x42, PG);
	/* cpu 1 uses the page first: its translations are cached now. */
	bool ran = smp_call(1, job_read, &p);
	check("ap_reads_before", ran && p.vector < 0 && p.val == 0x4242424242424242ull,
	      "cpu 1 %s: vector %d value 0x%lx", ran ? "read the page before REG" : "timed out",
	      p.vector, p.val);
	secs = (struct tv_pal_sections){ .num_sections = 2 };
	secs.sections[0] = (struct tv_pal_section){ TV_PAL_SECTION_CODE, 1, (u64)pal_code };
	secs.sections[1] = (struct tv_pal_section){ TV_PAL_SECTION_DATA, 1, (u64)pal_data };
	u32 rc = tv_call(TV_HC_REG, (u64)&secs, (u64)&params, entry);
	check("reg", rc == TV_OK, "REG gave eax=0x%x", rc);
	if (rc != TV_OK)
		return;
	ran = smp_call(1, job_read, &p);
	check("ap_read_refused", ran && p.vector == 13,
	      "cpu 1 read a registered PAL's page: %s vector %d value 0x%lx, want #GP",
	      ran ? "" : "timed out;", p.vector, p.val);
	p.addr = (u64)pal_code;
	ran = smp_call(1, job_read, &p);
	check("ap_code_read_refused", ran && p.vector == 13,
	      "cpu 1 read the PAL's code: vector %d, want #GP", p.vector);
	rc = tv_call(TV_HC_UNREG, entry, 0, 0);
	check("unreg", rc == TV_OK, "UNREG gave eax=0x%x", rc);
	p.addr = (u64)pal_data + 8;
	ran = smp_call(1, job_read, &p);
	check("ap_reads_scrubbed", ran && p.vector < 0 && p.val == 0,
	      "after UNREG cpu 1 read vector %d value 0x%lx, want 0 (scrubbed)", p.vector, p.val);
}

/* T5: TEST loops on every CPU at once. */
static struct smp_barrier bar;
static u32 bad[GUEST_MAX_CPUS], done_calls[GUEST_MAX_CPUS];

static void job_test_loop(void *arg)
{
	u32 me = this_cpu()->index, n = *(u32 *)arg;
	if (!smp_barrier_wait(&bar, smp_deadline()))
		return;
	for (u32 i = 0; i < n; i++) {
		if (tv_call(TV_HC_TEST, i, 0, 0) != TV_OK)
			bad[me]++;
		done_calls[me]++;
	}
}

static void test_loops(void)
{
	static u32 n;
	n = (u32)cmdline_u64("tv_test_rounds", 100);
	u32 mask = (1u << smp_ncpus) - 1;
	smp_barrier_init(&bar, smp_ncpus);
	u32 late = smp_run(mask, job_test_loop, &n);
	u32 total_bad = 0, short_cpu = GUEST_MAX_CPUS;
	for (u32 c = 0; c < smp_ncpus; c++) {
		total_bad += bad[c];
		if (done_calls[c] != n && short_cpu == GUEST_MAX_CPUS)
			short_cpu = c;
	}
	check("test_loops", !late && total_bad == 0 && short_cpu == GUEST_MAX_CPUS,
	      "TEST x%u on %u CPUs at once: late mask 0x%x, %u bad answers, cpu %u short (%u calls)",
	      n, smp_ncpus, late, total_bad, short_cpu,
	      short_cpu < GUEST_MAX_CPUS ? done_calls[short_cpu] : 0);
	info("trustvisor_smp: %u TEST calls on each of %u CPUs at once", n, smp_ncpus);
}

/* A PAL called on one CPU while the other one keeps running (spinning,
 * counting): results right, the other CPU's count grew meanwhile. */
static u8 pal_mem[2 * PG] __attribute__((aligned(PG)));
static u8 pal_stack[PG] __attribute__((aligned(PG)));
static u8 pal_param[PG] __attribute__((aligned(PG)));
static struct pal_run { u32 caller, n, bad, done_calls; volatile u32 done; volatile u64 spins; } pr;

static void job_pal(void *arg)
{
	struct pal_run *r = arg;
	u64 entry = (u64)pal_mem + TVP_OFF(tvp_add);
	if (!smp_barrier_wait(&bar, smp_deadline()))
		return;
	if (this_cpu()->index != r->caller) {
		while (!r->done)
			r->spins++;
		return;
	}
	static u64 io[2];
	for (u32 i = 0; i < r->n; i++) {
		io[0] = 1;
		u64 ret = tvp_call(entry, i, 2, (u64)io);
		r->bad += ret != i + 2 || io[0] != i + 3 || tvp_regs_bad;
		r->done_calls++;
	}
	r->done = 1;
}

static void pal_calls(void)
{
	tvp_sections(&secs, pal_mem, pal_stack, pal_param);
	params = (struct tv_pal_params){ .num_params = 3 };
	params.params[0] = (struct tv_pal_param){ TV_PAL_PM_INTEGER, 0, 8 };
	params.params[1] = (struct tv_pal_param){ TV_PAL_PM_INTEGER, 0, 8 };
	params.params[2] = (struct tv_pal_param){ TV_PAL_PM_POINTER, 0, 16 };
	u64 entry = (u64)pal_mem + TVP_OFF(tvp_add);
	u32 rc = tv_call(TV_HC_REG, (u64)&secs, (u64)&params, entry);
	check("pal_reg", rc == TV_OK, "REG gave eax=0x%x", rc);
	if (rc != TV_OK)
		return;
	static const char *chk[2] = { "pal_calls_cpu0_cpu1_runs", "pal_calls_cpu1_cpu0_runs" };
	for (u32 caller = 0; caller < 2; caller++) {
		pr = (struct pal_run){ .caller = caller, .n = 20 };
		smp_barrier_init(&bar, 2);
		u32 late = smp_run(3, job_pal, &pr);
		check(chk[caller], !late && pr.done_calls == pr.n && !pr.bad && pr.spins > 0,
		      "PAL x%u on cpu %u: late mask 0x%x, %u done, %u wrong; the other CPU spun "
		      "%lu times meanwhile", pr.n, caller, late, pr.done_calls, pr.bad, pr.spins);
	}
	rc = tv_call(TV_HC_UNREG, entry, 0, 0);
	check("pal_unreg", rc == TV_OK, "UNREG gave eax=0x%x", rc);
}

/* While a PAL runs on cpu 0 (tvp_bad's endless loop, abandoned at its time
 * limit, ~10 preemption-timer ticks), cpu 1's call of it, UNREG and SHARE
 * are refused with TV_ERR_PAL_BUSY, and nothing changes: once cpu 0's call
 * has ended, the same UNREG works. */
static u8 lend[PG] __attribute__((aligned(PG)));
static struct busy { volatile u32 calling; u32 own, call, unreg, share; } bz;

static void job_busy(void *arg)
{
	u64 entry = (u64)pal_mem + TVP_OFF(tvp_bad);
	if (!smp_barrier_wait(&bar, smp_deadline()))
		return;
	if (this_cpu()->index == 0) {
		bz.calling = 1;
		bz.own = (u32)tvp_call(entry, 3, 0, 0);
		return;
	}
	while (!bz.calling)
		cpu_relax();
	udelay(20000);          /* cpu 0 is inside its PAL by now, for ~0.5 s */
	bz.call = (u32)tvp_call(entry, 4, 0, 0);
	bz.unreg = tv_call(TV_HC_UNREG, entry, 0, 0);
	static u64 addr, len = PG;
	addr = (u64)lend;
	struct vmcall_regs r = { .rax = TV_HC_SHARE, .rcx = entry, .rdx = (u64)&addr,
				 .rsi = (u64)&len, .rdi = 1 };
	bz.share = vmcall_regs(&r) < 0 ? (u32)r.rax : 0xdeadbeef;
}

static void busy(void)
{
	tvp_sections(&secs, pal_mem, pal_stack, pal_param);
	params = (struct tv_pal_params){ .num_params = 2 };
	params.params[0] = (struct tv_pal_param){ TV_PAL_PM_INTEGER, 0, 8 };
	params.params[1] = (struct tv_pal_param){ TV_PAL_PM_INTEGER, 0, 8 };
	u64 entry = (u64)pal_mem + TVP_OFF(tvp_bad);
	u32 rc = tv_call(TV_HC_REG, (u64)&secs, (u64)&params, entry);
	check("busy_reg", rc == TV_OK, "REG gave eax=0x%x", rc);
	if (rc != TV_OK)
		return;
	bz = (struct busy){ 0 };
	smp_barrier_init(&bar, 2);
	u32 late = smp_run(3, job_busy, &bz);
	check("busy_refused", !late && bz.own == TV_ERR_PAL_FAULT && bz.call == TV_ERR_PAL_BUSY &&
	      bz.unreg == TV_ERR_PAL_BUSY && bz.share == TV_ERR_PAL_BUSY,
	      "late mask 0x%x; cpu0's endless PAL gave 0x%x (want 0x%x), meanwhile cpu1's call "
	      "0x%x, UNREG 0x%x, SHARE 0x%x (want 0x%x each)", late, bz.own, TV_ERR_PAL_FAULT,
	      bz.call, bz.unreg, bz.share, TV_ERR_PAL_BUSY);
	rc = tv_call(TV_HC_UNREG, entry, 0, 0);
	check("busy_unreg_after", rc == TV_OK, "UNREG after the call ended gave eax=0x%x", rc);
}

static void run(void)
{
	if (check_need_hv("reg"))
		return;
	if (!smp_ensure_up(why, sizeof(why)) || smp_ncpus < 2) {
		check_fail("aps_ready", "%s", smp_ncpus < 2 ? "needs 2 CPUs" : why);
		return;
	}
	isolation_on_other_cpu();
	test_loops();
	pal_calls();
	busy();
}

SCENARIO_EXPLICIT(66, trustvisor_smp, run, "TrustVisor on 2+ CPUs: a PAL's pages refused to "
		  "another CPU that had just used them; TEST loops on every CPU at once; PAL calls "
		  "on one CPU while the other runs; a running PAL busy for the other CPU");
