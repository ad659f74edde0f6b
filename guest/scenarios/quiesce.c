/* quiesce_pair: quiesce requests colliding. CPUs call VMCALL DIAG_QUIESCE
 * in a tight loop at the same moment -- first cpu 0 and cpu 1, then (with
 * >= 3 CPUs) every CPU. The hypervisor must serialise them: each call
 * stops all other CPUs (some of which are themselves trying to quiesce, or
 * stopped inside one), finds its section exclusive and returns EAX 0,
 * RBX = ncpus - 1, ECX = x + 1. A deadlock shows as a timeout, a FAIL
 * naming the CPU. The XMHF bug this guards against: seed 001 (T2/T5). */
#include "../smp.h"

static char why[384];
static struct hv_quiesce_tally tally[GUEST_MAX_CPUS];
static bool bar_timeout[GUEST_MAX_CPUS];
static struct smp_barrier bar;
static u32 rounds, phase;

static void job_quiesce(void *arg)
{
	u32 me = this_cpu()->index;
	if (!smp_barrier_wait(&bar, smp_deadline())) {
		bar_timeout[me] = true;
		return;
	}
	for (u32 i = 0; i < rounds; i++)
		hv_quiesce(phase << 28 | me << 20 | i, smp_ncpus - 1, &tally[me]);
}

static u32 popcount(u32 m)
{
	u32 n = 0;
	for (; m; m &= m - 1)
		n++;
	return n;
}

/* The CPUs in mask quiesce at once; one check. */
static void collide(const char *chk, u32 mask)
{
	if (check_need_hv(chk))
		return;
	memset(tally, 0, sizeof(tally));
	memset(bar_timeout, 0, sizeof(bar_timeout));
	smp_barrier_init(&bar, popcount(mask));
	phase++;
	u32 late = smp_run(mask, job_quiesce, NULL);
	for (u32 c = 0; c < smp_ncpus; c++) {
		if (!(mask >> c & 1))
			continue;
		if (late >> c & 1 || bar_timeout[c]) {
			check_fail(chk, "cpu %u %s within %u ms (%u of %u calls made): hang?", c,
				   bar_timeout[c] ? "timed out at the start barrier" :
				   "did not finish its DIAG_QUIESCE loop", smp_timeout_ms(),
				   tally[c].calls, rounds);
			return;
		}
		hv_quiesce_why(&tally[c], smp_ncpus - 1, why, sizeof(why));
		if (why[0]) {
			check_fail(chk, "cpu %u: %s", c, why);
			return;
		}
	}
	info("%u CPUs (mask 0x%x) made %u DIAG_QUIESCE calls each, all answered right",
	     popcount(mask), mask, rounds);
	check_pass(chk);
}

static void run(void)
{
	if (!smp_ensure_up(why, sizeof(why))) {
		check_fail("aps_ready", "%s", why);
		return;
	}
	if (smp_ncpus < 2) {
		check_fail("aps_ready", "only one CPU in the MADT: nothing to collide with");
		return;
	}
	check_pass("aps_ready");
	rounds = (u32)cmdline_u64("quiesce_rounds", 200);
	collide("pair", 0x3);
	if (smp_ncpus < 3)
		info("phase 'all' not applicable: with %u CPUs it is the pair again", smp_ncpus);
	else
		collide("all", (1u << smp_ncpus) - 1);
}

SCENARIO_EXPLICIT(85, quiesce_pair, run,
		  "cpu 0 and 1 (then all CPUs) quiesce at once in a tight loop: no hang");
