/* smp_xapic, smp_x2apic: start every MADT CPU three ways, as an OS and its
 * firmware do, in xAPIC (MMIO) or x2APIC (MSR) mode.
 *   round 1: the BSP, per AP by physical destination, the MP-spec sequence
 *            INIT assert, INIT de-assert (ignored), SIPI, SIPI -> vector A;
 *   round 2: the BSP again, shorthand "all excluding self", INIT, SIPI,
 *            SIPI -> vector B, to APs that are running (parked) in the guest;
 *   round 3: an AP (cpu 1) to the other APs, per destination -> vector C
 *            (any CPU may send INIT/SIPI; needs >= 3 CPUs).
 * Each AP reports the round and the vector it started at, exactly once per
 * round, and answers its mailbox. Under the hypervisor the INIT/SIPIs are
 * intercepted (xAPIC: the trapped LAPIC page; x2APIC: WRMSR 0x830) and
 * emulated; bare, the hardware (Bochs) does it. Nothing here needs VMCALL. */
#include "../smp.h"

static char why[384];

static const char *mode_name(bool x2) { return x2 ? "x2APIC" : "xAPIC"; }

/* MADT, LAPIC mode, at least two CPUs; false: stop here. */
static bool prepare(bool x2)
{
	if (!smp_discover(why, sizeof(why))) {
		check_fail("madt", "%s", why);
		return false;
	}
	check_pass("madt");
	const char *chk = x2 ? "x2apic_mode" : "xapic_mode";
	if (!smp_set_mode(x2, why, sizeof(why))) {
		check_fail(chk, "%s", why);
		return false;
	}
	u32 id = lapic_id();
	check(chk, id == smp_cpus[0].apic_id, "the BSP's LAPIC ID register reads %u in %s mode, "
	      "the MADT/CPUID say %u", id, mode_name(x2), smp_cpus[0].apic_id);
	if (smp_ncpus < 2) {
		check_fail("cpus", "only one CPU in the MADT: no AP to start");
		return false;
	}
	check_pass("cpus");
	return true;
}

static void round1(void)
{
	smp_round = 1;
	check("round1", smp_start_aps(smp_vectors[0], why, sizeof(why)), "%s", why);
}

/* ---- what every AP says about itself after round 1 ------------------------------- */
struct ident { u32 id; bool x2; };
static struct ident idents[GUEST_MAX_CPUS];

static void job_identify(void *arg)
{
	struct ident *r = &idents[this_cpu()->index];
	r->id = lapic_id();
	r->x2 = (rdmsr(0x1b) & 0xc00) == 0xc00;
}

static void check_identity(bool x2)
{
	memset(idents, 0xff, sizeof(idents));
	u32 late = smp_run(smp_mask_aps(), job_identify, NULL);
	for (u32 c = 1; c < smp_ncpus; c++) {
		const struct smp_cpu *s = &smp_cpus[c];
		if (late >> c & 1) {
			check_fail("ap_identity", "cpu %u (APIC ID %u) did not run its job", c, s->apic_id);
			return;
		}
		if (idents[c].id != s->apic_id || idents[c].x2 != x2) {
			check_fail("ap_identity", "cpu %u: LAPIC ID register %u in %s mode; want APIC ID %u "
				   "in %s mode", c, idents[c].id, mode_name(idents[c].x2), s->apic_id,
				   mode_name(x2));
			return;
		}
	}
	check_pass("ap_identity");
}

/* LINT1 NMI (unmasked) everywhere; LINT0 ExtINT on the BSP, masked on APs. */
static void check_lvts(void)
{
	for (u32 c = 0; c < smp_ncpus; c++) {
		const struct smp_cpu *s = &smp_cpus[c];
		u32 want0 = c ? LVT_DM_EXTINT | LVT_MASKED : LVT_DM_EXTINT;
		u32 lint1 = s->lint1 & (LVT_MASKED | LVT_DM_MASK);
		u32 lint0 = s->lint0 & (LVT_MASKED | LVT_DM_MASK);
		if (lint1 != LVT_DM_NMI || lint0 != want0) {
			check_fail("lvt", "cpu %u: LVT LINT0=0x%x LINT1=0x%x, want LINT0 0x%x and "
				   "LINT1 0x%x (NMI, unmasked)", c, s->lint0, s->lint1, want0, LVT_DM_NMI);
			return;
		}
	}
	check_pass("lvt");
}

static void job_nop(void *arg) { }

/* A lone INIT level de-assert must not reset a running AP. */
static void check_init_deassert(void)
{
	u32 before[GUEST_MAX_CPUS];
	for (u32 c = 1; c < smp_ncpus; c++) {
		before[c] = smp_cpus[c].starts;
		lapic_send(smp_cpus[c].apic_id, ICR_INIT | ICR_LEVEL);
	}
	udelay(10000);
	for (u32 c = 1; c < smp_ncpus; c++) {
		const struct smp_cpu *s = &smp_cpus[c];
		if (!smp_call(c, job_nop, NULL)) {
			check_fail("init_deassert_ignored", "cpu %u (APIC ID %u) stopped answering after "
				   "an INIT level de-assert (treated as INIT?)", c, s->apic_id);
			return;
		}
		if (s->starts != before[c]) {
			check_fail("init_deassert_ignored", "cpu %u (APIC ID %u) restarted after an INIT "
				   "level de-assert", c, s->apic_id);
			return;
		}
	}
	check_pass("init_deassert_ignored");
}

static void snapshot(u32 *before)
{
	for (u32 c = 0; c < smp_ncpus; c++)
		before[c] = smp_cpus[c].starts;
}

static void round2(void)
{
	u32 before[GUEST_MAX_CPUS];
	smp_round = 2;
	snapshot(before);
	bool sent = smp_init_sipi_sipi_others(smp_vectors[1]);
	bool ok = smp_wait_started(smp_mask_aps(), smp_vectors[1], before, why, sizeof(why));
	check("round2", ok, "%s%s", why, sent ? "" : " (the xAPIC ICR stayed busy)");
}

/* ---- round 3: cpu 1 starts the other APs ------------------------------------------ */
struct round3 { u8 vector; u32 mask; bool sent; };

static void job_round3(void *arg)
{
	struct round3 *r = arg;
	r->sent = true;
	for (u32 c = 0; c < smp_ncpus; c++)
		if (r->mask >> c & 1)
			r->sent &= smp_init_sipi_sipi(smp_cpus[c].apic_id, r->vector);
}

static void round3(void)
{
	if (smp_ncpus < 3) {
		info("round 3 not applicable: an AP starting the other APs needs >= 3 CPUs, "
		     "this machine has %u", smp_ncpus);
		return;
	}
	static struct round3 r;
	u32 before[GUEST_MAX_CPUS];
	r = (struct round3){ smp_vectors[2], smp_mask_aps() & ~2u, false };
	smp_round = 3;
	snapshot(before);
	smp_post(1, job_round3, &r);
	bool ok = smp_wait_started(r.mask, r.vector, before, why, sizeof(why));
	if (!smp_wait_job(1, smp_deadline()))
		check_fail("round3", "cpu 1 (APIC ID %u) did not finish sending INIT-SIPI-SIPI "
			   "within %u ms", smp_cpus[1].apic_id, smp_timeout_ms());
	else
		check("round3", ok, "%s (sent by cpu 1)%s", why,
		      r.sent ? "" : "; cpu 1's xAPIC ICR stayed busy");
}

static void report(void)
{
	for (u32 c = 1; c < smp_ncpus; c++) {
		const struct smp_cpu *s = &smp_cpus[c];
		info("cpu %u: APIC ID %u, started %u times, last in round %u at vector 0x%02x",
		     c, s->apic_id, s->starts, s->round, s->vector);
	}
}

static void run(bool x2)
{
	if (!prepare(x2))
		return;
	round1();
	check_identity(x2);
	check_lvts();
	check_init_deassert();
	round2();
	round3();
	report();
}

static void run_xapic(void) { run(false); }
static void run_x2apic(void) { run(true); }

SCENARIO_EXPLICIT(70, smp_xapic, run_xapic,
		  "MADT CPUs started 3 ways (per AP, all-but-self, by an AP) in xAPIC mode");
SCENARIO_EXPLICIT(71, smp_x2apic, run_x2apic,
		  "MADT CPUs started 3 ways (per AP, all-but-self, by an AP) in x2APIC mode");
