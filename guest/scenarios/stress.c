/* stress: the guest's half of the stress matrix (host-tools/hvstress) and
 * of the hypervisor's NMI_STORM host command test.
 *
 * Loops of TrustVisor hypercalls on chosen CPUs at once, while the host
 * may drive an NMI storm from outside; the guest counts the NMIs each CPU's
 * handler received and reports them with the hypervisor's own injection
 * counts (DIAG_NMI_STATS). Command line:
 *
 *   stress_test_cpus=MASK   CPUs running TEST-hypercall loops (T5)
 *   stress_pal_cpus=MASK    CPUs running PAL loops: each iteration REG of a
 *                           PAL of their own (trustvisor_pal.c's adding PAL),
 *                           a call of it (result, pointer parameter and its
 *                           DATA page's call count checked), UNREG
 *   stress_rounds=N         iterations of each loop (100)
 *   stress_storm=1          an external storm is coming: wait for its first
 *                           NMI before the loops (stress_wait_ms, 120000),
 *                           and after them until no NMI came for
 *                           stress_quiet_ms (3000)
 *   stress_hang_cpu=N       planted hang (the runner's hang test): CPU N parks
 *                           with interrupts off (cli; pause loop, forever) at
 *                           iteration stress_hang_round (rounds / 2) of its
 *                           loop, after printing "STRESS HANG cpuN". Only a CPU
 *                           that runs a loop can park; nothing else changes.
 *
 * A failed iteration is reported by its step: 0 TEST, 1 REG, 2 the PAL call,
 * 3 UNREG (and the eax it gave; for the call, its result).
 *
 * Lines for the host: "STRESS READY", "STRESS PROGRESS ..." (at least once
 * a second of guest time while anything runs: the hang detector's
 * heartbeat), "STRESS NMI cpuN received=R injected=I merged=M", CHECK
 * lines, "STRESS END". */
#include "../smp.h"
#include "tvabi.h"
#include "tvpal.h"

#define PG 4096
#define PROGRESS_MS 1000

/* Per CPU: the PAL's CODE and DATA (the template), its STACK, its PARAM. */
static u8 pal_pages[GUEST_MAX_CPUS][4][PG] __attribute__((aligned(PG)));
static u64 pal_io[GUEST_MAX_CPUS][2];
static struct tv_pal_sections secs[GUEST_MAX_CPUS];
static struct tv_pal_params params[GUEST_MAX_CPUS];
static char why[256];

struct loop_cpu {
	u32 done, bad, first_bad_rc, first_bad_step;
};
static struct loop_cpu loops[GUEST_MAX_CPUS];
static struct smp_barrier bar;
static u32 rounds, test_mask, pal_mask;
static u32 hang_cpu = ~0u, hang_round;
static u64 base_nmi[GUEST_MAX_CPUS];
static struct hv_nmi_stats hv_before[GUEST_MAX_CPUS], hv_after[GUEST_MAX_CPUS];
static int hv_vec[GUEST_MAX_CPUS];

static u32 tv_call(u32 cmd, u64 rcx, u64 rsi, u64 rdi)
{
	struct vmcall_regs r = { .rax = cmd, .rcx = rcx, .rsi = rsi, .rdi = rdi };
	return vmcall_regs(&r) < 0 ? (u32)r.rax : 0xdeadbeef;
}

static void bad_step(struct loop_cpu *l, u32 step, u32 rc)
{
	if (!l->bad++) {
		l->first_bad_step = step;
		l->first_bad_rc = rc;
	}
}

/* One PAL's life: REG (its pages leave every CPU's EPT under quiesce), a
 * call of it (tvp_add, trustvisor_pal.c's adding PAL: its result, the
 * pointer parameter marshalled back, its call count in its own DATA page),
 * UNREG (its pages back, scrubbed). */
static void pal_once(u32 me, u32 i, struct loop_cpu *l)
{
	static const u32 types[] = { TV_PAL_PM_INTEGER, TV_PAL_PM_INTEGER, TV_PAL_PM_POINTER };
	static const u64 sizes[] = { 8, 8, 16 };
	u8 *mem = pal_pages[me][0];
	u64 entry = (u64)mem + TVP_OFF(tvp_add);
	tvp_sections(&secs[me], mem, pal_pages[me][2], pal_pages[me][3]);
	params[me] = (struct tv_pal_params){ .num_params = 3 };
	for (u32 k = 0; k < 3; k++)
		params[me].params[k] = (struct tv_pal_param){ types[k], 0, sizes[k] };
	u32 rc = tv_call(TV_HC_REG, (u64)&secs[me], (u64)&params[me], entry);
	if (rc != TV_OK) {
		bad_step(l, 1, rc);
		return;
	}
	u64 *io = pal_io[me];
	io[0] = 1000 * me, io[1] = 0;
	u64 r = tvp_call(entry, i, me + 1, (u64)io);
	if (r != i + me + 1 || io[0] != 1000 * me + i + me + 1 || io[1] != 1)
		bad_step(l, 2, (u32)r);
	rc = tv_call(TV_HC_UNREG, entry, 0, 0);
	if (rc != TV_OK)
		bad_step(l, 3, rc);
}

/* The planted hang: this CPU stops making progress for good, with
 * interrupts off so nothing in the guest can bring it back (NMIs still
 * reach its handler, and the hypervisor still gets its exits: that is
 * what lets gdb stop it and show where it is). */
static void __attribute__((noinline, noreturn)) stress_park(u32 me, u32 i)
{
	printf("STRESS HANG cpu%u: parked at iteration %u with interrupts off (planted)\n", me, i);
	asm volatile("cli" ::: "memory");
	for (;;)
		cpu_relax();
}

static void job_loop(void *arg)
{
	u32 me = this_cpu()->index;
	struct loop_cpu *l = &loops[me];
	bool pal = pal_mask >> me & 1;
	if (!smp_barrier_wait(&bar, smp_deadline()))
		return;
	u64 next = tsc_deadline_ms(PROGRESS_MS);
	for (u32 i = 0; i < rounds; i++) {
		if (me == hang_cpu && i == hang_round)
			stress_park(me, i);
		if (pal) {
			pal_once(me, i, l);
		} else {
			u32 rc = tv_call(TV_HC_TEST, i, 0, 0);
			if (rc != TV_OK)
				bad_step(l, 0, rc);
		}
		l->done = i + 1;
		if (tsc_expired(next) || i + 1 == rounds) {
			printf("STRESS PROGRESS cpu%u %s %u/%u nmi=%lu\n", me, pal ? "pal" : "test",
			       i + 1, rounds, smp_self()->nmi_received - base_nmi[me]);
			next = tsc_deadline_ms(PROGRESS_MS);
		}
	}
}

static void job_hv_stats(void *arg)
{
	u32 me = this_cpu()->index;
	struct hv_nmi_stats *out = arg ? hv_after : hv_before;
	hv_vec[me] = hv_nmi_stats(&out[me]);
}

static u64 nmi_total(void)
{
	u64 n = 0;
	for (u32 c = 0; c < smp_ncpus; c++)
		n += smp_cpus[c].nmi_received - base_nmi[c];
	return n;
}

/* Wait for the storm's first NMI (first) or until none came for quiet_ms. */
static bool wait_nmis(bool first, u64 limit_ms, u64 quiet_ms)
{
	u64 end = tsc_deadline_ms(limit_ms), beat = tsc_deadline_ms(PROGRESS_MS);
	u64 last = nmi_total(), quiet = tsc_deadline_ms(quiet_ms);
	while (!tsc_expired(end)) {
		u64 now = nmi_total();
		if (first && now)
			return true;
		if (now != last) {
			last = now;
			quiet = tsc_deadline_ms(quiet_ms);
		} else if (!first && tsc_expired(quiet)) {
			return true;
		}
		if (tsc_expired(beat)) {
			printf("STRESS PROGRESS nmi total=%lu\n", now);
			beat = tsc_deadline_ms(PROGRESS_MS);
		}
		udelay(1000);
	}
	return false;
}

static void check_loops(u32 mask, u32 late)
{
	for (u32 c = 0; c < smp_ncpus; c++) {
		const struct loop_cpu *l = &loops[c];
		if (!(mask >> c & 1))
			continue;
		if (late >> c & 1 || l->done != rounds || l->bad) {
			check_fail("loops", "cpu %u: %u of %u iterations%s, %u bad answers (first: "
				   "step %u eax=0x%x)", c, l->done, rounds, late >> c & 1 ?
				   ", late" : "", l->bad, l->first_bad_step, l->first_bad_rc);
			return;
		}
	}
	check_pass("loops");
}

/* Every CPU: NMIs its handler counted == NMIs the hypervisor injected. */
static void report_nmis(void)
{
	u32 late = smp_run((1u << smp_ncpus) - 1, job_hv_stats, (void *)1);
	bool ok = !late;
	for (u32 c = 0; c < smp_ncpus; c++) {
		u64 got = smp_cpus[c].nmi_received - base_nmi[c];
		u64 inj = hv_after[c].injected - hv_before[c].injected;
		printf("STRESS NMI cpu%u received=%lu injected=%lu merged=%lu\n", c, got, inj,
		       hv_after[c].merged - hv_before[c].merged);
		if (hv.present && (hv_vec[c] >= 0 || got != inj) && ok) {
			ok = false;
			snprintf(why, sizeof(why), "cpu %u: the guest's handler counted %lu NMIs, the "
				 "hypervisor injected %lu (vector %d)", c, got, inj, hv_vec[c]);
		}
	}
	if (late)
		snprintf(why, sizeof(why), "CPUs 0x%x did not report their counts", late);
	if (!check_need_hv("hv_nmi_counts"))
		check("hv_nmi_counts", ok, "%s", why);
}

static void run(void)
{
	if (!smp_ensure_up(why, sizeof(why))) {
		check_fail("aps_ready", "%s", why);
		return;
	}
	u32 all = (1u << smp_ncpus) - 1;
	rounds = (u32)cmdline_u64("stress_rounds", 100);
	test_mask = (u32)cmdline_u64("stress_test_cpus", 0) & all;
	pal_mask = (u32)cmdline_u64("stress_pal_cpus", 0) & all & ~test_mask;
	bool storm = cmdline_u64("stress_storm", 0);
	hang_cpu = (u32)cmdline_u64("stress_hang_cpu", ~0u);
	hang_round = (u32)cmdline_u64("stress_hang_round", rounds / 2);
	for (u32 c = 0; c < smp_ncpus; c++)
		base_nmi[c] = smp_cpus[c].nmi_received;
	smp_run(all, job_hv_stats, NULL);
	printf("STRESS READY cpus=%u test=0x%x pal=0x%x rounds=%u storm=%u\n", smp_ncpus,
	       test_mask, pal_mask, rounds, storm);
	if (storm)
		check("storm_seen", wait_nmis(true, cmdline_u64("stress_wait_ms", 120000), 0),
		      "no NMI came within stress_wait_ms");
	u32 mask = test_mask | pal_mask;
	if (mask) {
		memset(loops, 0, sizeof(loops));
		u32 n = 0;
		for (u32 m = mask; m; m &= m - 1)
			n++;
		smp_barrier_init(&bar, n);
		u32 late = smp_run(mask, job_loop, NULL);
		check_loops(mask, late);
	}
	if (storm)
		wait_nmis(false, 3600 * 1000, cmdline_u64("stress_quiet_ms", 3000));
	report_nmis();
	printf("STRESS END\n");
}

SCENARIO_EXPLICIT(90, stress, run, "stress matrix cell: TEST/PAL loops on chosen CPUs, NMIs "
		  "from an external storm counted per CPU");
