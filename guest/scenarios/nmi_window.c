/* nmi_window: an NMI that arrives while the guest is still in its NMI
 * handler must wait for the handler's IRET and then be delivered, once.
 * Bare, the CPU holds it (NMI blocking); under the hypervisor it exits,
 * stays pending in the hypervisor, and is injected at the NMI-window exit
 * that follows the IRET (virtual-NMI blocking) -- the path the storm only
 * hits by chance.
 *
 * Each round: cpu 0 is armed; cpu 1 sends it an NMI, waits until cpu 0's
 * handler runs (the armed handler stays in it), sends a second NMI and
 * says so; the handler waits for that word and SETTLE_US more (the NMI has
 * reached cpu 0 by then), and returns. Checks: `second_after_iret` -- per
 * round cpu 0 counted exactly two NMIs and the second handler never ran
 * inside the first. The round count is printed ("INFO nmi_window: N
 * rounds: ...") for tests that count the hypervisor's NMI_WINDOW exits.
 *
 * The NMI hook installed here replaces smp.c's and does what it does
 * (count in smp_cpus[].nmi_received) when not armed, so the scenarios
 * after this one see no difference. */
#include "../smp.h"

#define SETTLE_US 2000

static volatile u32 armed;          /* cpu 0's handler holds the next NMI */
static volatile u32 in_handler;     /* set by that handler, for cpu 1 */
static volatile u32 second_sent;    /* cpu 1: the second NMI is on its way */
static volatile u32 depth[GUEST_MAX_CPUS], nested;
static volatile bool held_timeout;

static bool window_nmi_hook(struct trap_frame *f)
{
	(void)f;
	u32 me = this_cpu()->index;
	if (depth[me]++)
		nested++;
	smp_self()->nmi_received++;
	if (me == 0 && armed) {
		armed = 0;
		in_handler = 1;
		u64 deadline = smp_deadline();
		while (!second_sent) {
			if (tsc_expired(deadline)) {
				held_timeout = true;
				break;
			}
			cpu_relax();
		}
		udelay(SETTLE_US);
	}
	depth[me]--;
	return true;
}

static bool wait_flag(volatile u32 *flag, u64 deadline)
{
	while (!*flag) {
		if (tsc_expired(deadline))
			return false;
		cpu_relax();
	}
	return true;
}

struct sender {
	bool no_handler;           /* cpu 0's handler never said it runs */
};

/* On cpu 1. */
static void job_send_two(void *arg)
{
	struct sender *s = arg;
	lapic_send(smp_cpus[0].apic_id, ICR_NMI | ICR_ASSERT);
	if (!wait_flag(&in_handler, smp_deadline())) {
		s->no_handler = true;
		return;
	}
	lapic_send(smp_cpus[0].apic_id, ICR_NMI | ICR_ASSERT);
	second_sent = 1;
}

static void run(void)
{
	char why[256];
	if (!smp_ensure_up(why, sizeof(why))) {
		check_fail("aps_ready", "%s", why);
		return;
	}
	if (smp_ncpus < 2) {
		check_fail("aps_ready", "only one CPU in the MADT: no NMI partner");
		return;
	}
	u32 rounds = (u32)cmdline_u64("nmi_window_rounds", 5);
	trap_set_hook(2, window_nmi_hook);
	info("%u rounds: cpu 1 sends cpu 0 a second NMI while cpu 0's handler holds the first",
	     rounds);
	struct smp_cpu *s0 = &smp_cpus[0];
	static struct sender snd;
	bool ok = true;
	why[0] = 0;
	for (u32 r = 0; r < rounds && ok; r++) {
		snd = (struct sender){ 0 };
		in_handler = second_sent = 0;
		held_timeout = false;
		u64 base = s0->nmi_received;
		armed = 1;
		smp_post(1, job_send_two, &snd);
		u64 deadline = smp_deadline();
		while (s0->nmi_received < base + 2 && !tsc_expired(deadline))
			cpu_relax();
		if (!smp_wait_job(1, smp_deadline())) {
			snprintf(why, sizeof(why), "round %u: cpu 1 did not end its job", r);
			ok = false;
			break;
		}
		udelay(SETTLE_US);          /* a third would show up by now */
		u64 got = s0->nmi_received - base;
		if (snd.no_handler || held_timeout || got != 2 || nested) {
			snprintf(why, sizeof(why), "round %u: cpu 0 counted %lu NMIs (want 2)%s%s%s",
				 r, got, snd.no_handler ? ", its handler never ran for the first" : "",
				 held_timeout ? ", the second was never sent" : "",
				 nested ? ", a handler ran inside another" : "");
			ok = false;
		}
	}
	armed = 0;
	check("second_after_iret", ok, "%s", why);
}

SCENARIO_EXPLICIT(82, nmi_window, run,
		  "an NMI sent while the NMI handler runs is delivered once, after its IRET");
