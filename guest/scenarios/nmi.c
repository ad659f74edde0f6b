/* nmi_pingpong, nmi_storm: NMI IPIs between the guest's CPUs. Bare, the
 * LAPICs deliver them; under the hypervisor every NMI that reaches a CPU
 * running the guest exits and is re-injected as a virtual NMI (with NMI-
 * window exiting while the guest still blocks NMIs), and quiesce stops
 * CPUs with NMIs of its own that the guest must never see.
 *
 * Counting: each CPU's guest NMI handler counts what it received
 * (smp_cpus[].nmi_received, smp.c); the hypervisor counts what it injected
 * (VMCALL DIAG_NMI_STATS). The two must agree on every CPU. Hardware (and
 * so the hypervisor) may merge an NMI into one already pending, never
 * invent one: received <= sent. Both need APs from an earlier smp_*
 * scenario, or start them in the live LAPIC mode. */
#include "../smp.h"

#define STORM_QUIESCE_EVERY 8        /* sends between a CPU's quiesce calls */
#define SETTLE_US           2000     /* for NMIs still in flight */

static char why[384];

static bool aps_ready(void)
{
	if (!smp_ensure_up(why, sizeof(why))) {
		check_fail("aps_ready", "%s", why);
		return false;
	}
	if (smp_ncpus < 2) {
		check_fail("aps_ready", "only one CPU in the MADT: no NMI partner");
		return false;
	}
	check_pass("aps_ready");
	return true;
}

static bool send_nmi(u32 apic_id)
{
	return lapic_send(apic_id, ICR_NMI | ICR_ASSERT);
}

/* ---- the guest's and the hypervisor's NMI counts, per CPU --------------------- */
struct nmi_snap {
	u64 guest;                  /* smp_cpus[].nmi_received */
	struct hv_nmi_stats hv;     /* only under the hypervisor */
	int vector;                 /* -1, or the exception DIAG_NMI_STATS raised */
};

/* The guest's count first: an NMI still pending is injected at the VM
 * entry after the VMCALL, and then neither number has it. (The callers
 * also let in-flight NMIs land before they snapshot.) */
static void snap_self(struct nmi_snap *s)
{
	s->guest = smp_self()->nmi_received;
	s->vector = hv.present ? hv_nmi_stats(&s->hv) : -1;
}

static void job_snap(void *arg)
{
	snap_self(&((struct nmi_snap *)arg)[this_cpu()->index]);
}

/* Every CPU: NMIs its handler counted == NMIs the hypervisor injected,
 * between the two snapshots. */
static void check_hv_counts(const char *chk, const struct nmi_snap *before,
			    const struct nmi_snap *after)
{
	if (check_need_hv(chk))
		return;
	for (u32 c = 0; c < smp_ncpus; c++) {
		const struct nmi_snap *b = &before[c], *a = &after[c];
		int v = b->vector >= 0 ? b->vector : a->vector;
		if (v >= 0) {
			check_fail(chk, "cpu %u: VMCALL DIAG_NMI_STATS raised %s (vector %d)", c,
				   vector_name(v), v);
			return;
		}
		if (b->hv.status != HVABI_OK || a->hv.status != HVABI_OK) {
			check_fail(chk, "cpu %u: DIAG_NMI_STATS returned eax=0x%x / 0x%x", c,
				   b->hv.status, a->hv.status);
			return;
		}
		u64 got = a->guest - b->guest, inj = a->hv.injected - b->hv.injected;
		info("cpu %u: guest handler counted %lu NMIs, hypervisor injected %lu, merged %lu, "
		     "answered %lu quiesce requests", c, got, inj, a->hv.merged - b->hv.merged,
		     a->hv.quiesce_answered - b->hv.quiesce_answered);
		if (got != inj) {
			check_fail(chk, "cpu %u: the guest's NMI handler ran %lu times, the hypervisor "
				   "injected %lu NMIs", c, got, inj);
			return;
		}
	}
	check_pass(chk);
}

static bool snap_all(struct nmi_snap *out, const char *chk)
{
	u32 late = smp_run((1u << smp_ncpus) - 1, job_snap, out);
	if (late)
		check_fail(chk, "CPUs 0x%x did not report their NMI counts within %u ms", late,
			   smp_timeout_ms());
	return !late;
}

/* ---- ping-pong ------------------------------------------------------------------- */
struct pong {
	u32 rounds, answered;
	u64 base;                   /* the AP's count before the first ping */
	bool timeout;
};

static bool wait_count(volatile u64 *count, u64 want, u64 deadline)
{
	while (*count < want) {
		if (tsc_expired(deadline))
			return false;
		cpu_relax();
	}
	return true;
}

/* On the AP: answer each ping from cpu 0 with one NMI back. Sends happen
 * here, never in the handler, which only counts. */
static void job_pong(void *arg)
{
	struct pong *p = arg;
	struct smp_cpu *me = smp_self();
	for (u32 i = 1; i <= p->rounds; i++) {
		if (!wait_count(&me->nmi_received, p->base + i, smp_deadline())) {
			p->timeout = true;
			return;
		}
		send_nmi(smp_cpus[0].apic_id);
		p->answered = i;
	}
}

/* rounds NMIs cpu 0 -> b, each acknowledged (counted by b's handler)
 * before b sends one back and cpu 0 counts it: one NMI in flight at a
 * time, so nothing may merge and the counts must be exact. */
static bool pingpong_one(u32 b, u32 rounds, char *w, size_t n)
{
	static struct pong p;
	struct smp_cpu *sb = &smp_cpus[b], *s0 = &smp_cpus[0];
	p = (struct pong){ .rounds = rounds, .base = sb->nmi_received };
	u64 base0 = s0->nmi_received;
	bool ok = true;
	smp_post(b, job_pong, &p);
	for (u32 i = 1; i <= rounds && ok; i++) {
		send_nmi(sb->apic_id);
		if (!wait_count(&sb->nmi_received, p.base + i, smp_deadline())) {
			snprintf(w, n, "cpu %u (APIC ID %u) did not count NMI %u of %u from cpu 0 within "
				 "%u ms", b, sb->apic_id, i, rounds, smp_timeout_ms());
			ok = false;
		} else if (!wait_count(&s0->nmi_received, base0 + i, smp_deadline())) {
			snprintf(w, n, "cpu 0 did not count cpu %u's answer %u of %u within %u ms%s", b,
				 i, rounds, smp_timeout_ms(), p.timeout ? " (the AP's job timed out)" : "");
			ok = false;
		}
	}
	if (!smp_wait_job(b, smp_deadline())) {
		snprintf(w, n, "cpu %u (APIC ID %u) did not end its ping-pong job within %u ms", b,
			 sb->apic_id, smp_timeout_ms());
		return false;
	}
	if (!ok)
		return false;
	udelay(SETTLE_US);
	u64 got_b = sb->nmi_received - p.base, got_0 = s0->nmi_received - base0;
	if (got_b != rounds || got_0 != rounds) {
		snprintf(w, n, "after %u round trips cpu %u counted %lu NMIs and cpu 0 %lu: an NMI "
			 "was counted twice or invented", rounds, b, got_b, got_0);
		return false;
	}
	return true;
}

/* Every AP in turn; one check. */
static void pingpong_all(const char *chk, u32 rounds)
{
	u32 bad = 0;
	for (u32 b = 1; b < smp_ncpus; b++) {
		char w[256];
		if (!pingpong_one(b, rounds, w, sizeof(w)) && !bad++)
			snprintf(why, sizeof(why), "%s", w);
	}
	if (bad > 1) {
		size_t l = strlen(why);
		snprintf(why + l, sizeof(why) - l, " (%u APs failed)", bad);
	}
	check(chk, !bad, "%s", why);
}

static struct nmi_snap snaps[2][GUEST_MAX_CPUS];

static void run_pingpong(void)
{
	if (!aps_ready())
		return;
	u32 rounds = (u32)cmdline_u64("nmi_rounds", 1000);
	info("%u NMI round trips between cpu 0 and each of %u APs (%s mode)", rounds,
	     smp_ncpus - 1, lapic_is_x2apic() ? "x2APIC" : "xAPIC");
	if (!snap_all(snaps[0], "pingpong"))
		return;
	pingpong_all("pingpong", rounds);
	if (snap_all(snaps[1], "hv_nmi_counts"))
		check_hv_counts("hv_nmi_counts", snaps[0], snaps[1]);
}

SCENARIO_EXPLICIT(80, nmi_pingpong, run_pingpong,
		  "NMI ping-pong cpu 0 <-> each AP: every NMI arrives exactly once");

/* ---- storm ----------------------------------------------------------------------- */
struct storm_cpu {
	u64 sent[GUEST_MAX_CPUS];       /* NMIs this CPU sent to each target */
	struct nmi_snap before, after;
	struct hv_quiesce_tally q;
	bool barrier_timeout, icr_busy;
};

static struct storm_cpu storm[GUEST_MAX_CPUS];
static struct smp_barrier storm_bar;
static u32 storm_sends;

/* On every CPU at once: storm_sends NMIs to all including self; the APs
 * also quiesce every few sends under the hypervisor. */
static void job_storm(void *arg)
{
	u32 me = this_cpu()->index;
	struct storm_cpu *st = &storm[me];
	snap_self(&st->before);
	if (!smp_barrier_wait(&storm_bar, smp_deadline())) {
		st->barrier_timeout = true;
		return;
	}
	for (u32 i = 0; i < storm_sends; i++) {
		if (!lapic_send(0, ICR_ALL | ICR_NMI | ICR_ASSERT))
			st->icr_busy = true;
		for (u32 t = 0; t < smp_ncpus; t++)
			st->sent[t]++;
		if (me && hv.present && i % STORM_QUIESCE_EVERY == STORM_QUIESCE_EVERY - 1)
			hv_quiesce(me << 16 | i, smp_ncpus - 1, &st->q);
	}
	if (!smp_barrier_wait(&storm_bar, smp_deadline())) {
		st->barrier_timeout = true;
		return;
	}
	udelay(SETTLE_US);
	snap_self(&st->after);
}

static u64 sent_to(u32 t)
{
	u64 n = 0;
	for (u32 s = 0; s < smp_ncpus; s++)
		n += storm[s].sent[t];
	return n;
}

static bool storm_finished(void)
{
	memset(storm, 0, sizeof(storm));
	smp_barrier_init(&storm_bar, smp_ncpus);
	u32 late = smp_run((1u << smp_ncpus) - 1, job_storm, NULL);
	for (u32 c = 0; c < smp_ncpus; c++) {
		if (late >> c & 1 || storm[c].barrier_timeout) {
			check_fail("storm_done", "cpu %u %s within %u ms", c, late >> c & 1 ?
				   "did not finish its storm job" : "timed out at a barrier",
				   smp_timeout_ms());
			return false;
		}
	}
	check_pass("storm_done");
	return true;
}

static void check_received(void)
{
	u32 bad = ~0u;
	for (u32 c = 0; c < smp_ncpus; c++) {
		const struct storm_cpu *st = &storm[c];
		u64 got = st->after.guest - st->before.guest;
		info("cpu %u: sent %lu NMIs (all including self), received %lu of the %lu sent to "
		     "it%s", c, st->sent[c], got, sent_to(c), st->icr_busy ? "; ICR stayed busy" : "");
		if ((got == 0 || got > sent_to(c)) && bad == ~0u)
			bad = c;
	}
	if (bad == ~0u) {
		check_pass("received");
		return;
	}
	const struct storm_cpu *st = &storm[bad];
	u64 got = st->after.guest - st->before.guest;
	check_fail("received", "cpu %u received %lu NMIs of %lu sent to it: %s", bad, got,
		   sent_to(bad), got ? "more than were sent (invented)" : "none (delivery stuck)");
}

static void check_quiesce(void)
{
	if (check_need_hv("quiesce"))
		return;
	for (u32 c = 1; c < smp_ncpus; c++) {
		hv_quiesce_why(&storm[c].q, smp_ncpus - 1, why, sizeof(why));
		if (why[0] || !storm[c].q.calls) {
			check_fail("quiesce", "cpu %u: %s", c, why[0] ? why : "made no quiesce call");
			return;
		}
	}
	check_pass("quiesce");
}

static void check_vmcalls(void)
{
	if (check_need_hv("vmcalls"))
		return;
	for (u32 c = 0; c < smp_ncpus; c++) {
		const struct storm_cpu *st = &storm[c];
		int v = st->before.vector >= 0 ? st->before.vector : st->after.vector;
		if (v < 0 && st->q.faults)
			v = st->q.vector;
		if (v >= 0) {
			check_fail("vmcalls", "cpu %u: a VMCALL raised %s (vector %d)", c,
				   vector_name(v), v);
			return;
		}
	}
	check_pass("vmcalls");
}

static u32 lint1_now[GUEST_MAX_CPUS];

static void job_lint1(void *arg) { lint1_now[this_cpu()->index] = lapic_read(LAPIC_LVT_LINT1); }

/* The hypervisor must leave the guest's LINT1 (NMI, unmasked) alone. */
static void check_lint1(void)
{
	u32 late = smp_run((1u << smp_ncpus) - 1, job_lint1, NULL);
	for (u32 c = 0; c < smp_ncpus; c++) {
		u32 v = lint1_now[c] & (LVT_MASKED | LVT_DM_MASK);
		if (late >> c & 1 || v != LVT_DM_NMI) {
			check_fail("lint1_nmi", late >> c & 1 ? "cpu %u did not read its LVT" :
				   "cpu %u: LVT LINT1 reads 0x%x, the guest set 0x%x (NMI, unmasked)",
				   c, lint1_now[c], LVT_DM_NMI);
			return;
		}
	}
	check_pass("lint1_nmi");
}

static void run_storm(void)
{
	if (!aps_ready())
		return;
	storm_sends = (u32)cmdline_u64("storm_sends", 300);
	info("%u CPUs each send %u NMIs to all including self (%s mode)%s", smp_ncpus,
	     storm_sends, lapic_is_x2apic() ? "x2APIC" : "xAPIC",
	     hv.present ? "; the APs quiesce every 8 sends" : "");
	if (!storm_finished())
		return;
	check_received();
	struct nmi_snap before[GUEST_MAX_CPUS], after[GUEST_MAX_CPUS];
	for (u32 c = 0; c < smp_ncpus; c++) {
		before[c] = storm[c].before;
		after[c] = storm[c].after;
	}
	check_hv_counts("hv_nmi_counts", before, after);
	check_quiesce();
	check_vmcalls();
	pingpong_all("pingpong_after", (u32)cmdline_u64("storm_pingpong", 20));
	check_lint1();
}

SCENARIO_EXPLICIT(81, nmi_storm, run_storm,
		  "every CPU sends NMIs to all, APs quiesce: none invented, none stuck");
