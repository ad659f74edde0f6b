/* What the hostile scenario's attempt classes share: the PRNG, small
 * instruction helpers, counting interrupts per vector and CPU, and checking
 * that the APs still answer. */
#include "hostile.h"

char why[384];
u64 rng;
bool random_mode;
u16 com1 = 0x3f8;

/* ---- small helpers ------------------------------------------------------------ */
u64 rnd(void)                 /* xorshift64* */
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

u64 rnd_below(u64 n) { return n ? rnd() % n : 0; }


int write_cr0(u64 v) { return TRY("mov %0, %%cr0", :: "r"(v) : "memory"); }
int write_cr3(u64 v) { return TRY("mov %0, %%cr3", :: "r"(v) : "memory"); }
int write_cr4(u64 v) { return safe_write_cr4(v); }

u64 xgetbv0(void)
{
	u32 lo, hi;
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (u64)hi << 32 | lo;
}

int xsetbv_raw(u64 rcx, u64 val)
{
	return TRY("xsetbv", :: "c"(rcx), "a"((u32)val), "d"((u32)(val >> 32)) : "memory");
}

int read32(u64 a, u32 *v)
{
	u32 x = 0;
	int r = TRY("movl (%1), %0", : "+r"(x) : "r"(a) : "memory");
	*v = x;
	return r;
}

int write32(u64 a, u32 v) { return TRY("movl %1, (%0)", :: "r"(a), "r"(v) : "memory"); }

u8 cmos_read(u8 reg) { outb(0x70, reg); return inb(0x71); }
void cmos_write(u8 reg, u8 v) { outb(0x70, reg); outb(0x71, v); }

u32 maxphyaddr(void)
{
	u32 a, b, c, d;
	cpuid(0x80000000u, 0, &a, &b, &c, &d);
	if (a < 0x80000008u)
		return 36;
	cpuid(0x80000008u, 0, &a, &b, &c, &d);
	return a & 0xff;
}

/* Expected #GP(0): ok, else *why says what happened. */
bool want_gp(int v, const char *what)
{
	if (v == 13 && fault_error() == 0)
		return true;
	if (v < 0)
		snprintf(why, sizeof(why), "%s completed, want #GP(0)", what);
	else
		snprintf(why, sizeof(why), "%s raised %s (vector %d) error 0x%lx, want #GP(0)", what,
			 vector_name((unsigned)v), v, fault_error());
	return false;
}

/* ---- interrupts counted per CPU and vector ------------------------------------- */
static volatile u32 vec_count[GUEST_MAX_CPUS][VEC_COUNT];

bool vec_hook(struct trap_frame *f)
{
	vec_count[this_cpu()->index][f->vector - VEC_FIRST]++;
	lapic_eoi();
	return true;
}

u8 pic_mask1, pic_mask2;

/* A window with interrupts on: the 8259 stays masked (its IRQs would come at
 * BIOS vectors 8..15), so only LAPIC interrupts arrive. */
void irq_window(u64 us)
{
	asm volatile("sti" ::: "memory");
	udelay(us);
	asm volatile("cli" ::: "memory");
}

void vec_snapshot(u32 snap[GUEST_MAX_CPUS][VEC_COUNT])
{
	for (u32 c = 0; c < GUEST_MAX_CPUS; c++)
		for (u32 v = 0; v < VEC_COUNT; v++)
			snap[c][v] = vec_count[c][v];
}

/* Arrivals since snap: total over all CPUs and vectors, and at (cpu, vec). */
u32 vec_since(u32 snap[GUEST_MAX_CPUS][VEC_COUNT], u32 cpu, u32 vec, u32 *total)
{
	u32 t = 0;
	for (u32 c = 0; c < GUEST_MAX_CPUS; c++)
		for (u32 v = 0; v < VEC_COUNT; v++)
			t += vec_count[c][v] - snap[c][v];
	*total = t;
	return vec_count[cpu][vec - VEC_FIRST] - snap[cpu][vec - VEC_FIRST];
}

u64 nmi_total(void)
{
	u64 n = 0;
	for (u32 c = 0; c < smp_ncpus; c++)
		n += smp_cpus[c].nmi_received;
	return n;
}

/* ---- the APs: still running, never restarted ------------------------------------ */
static u32 ap_starts[GUEST_MAX_CPUS];
bool aps_ok;                  /* APs were up after start-up */

static void job_nop(void *arg) { }

void record_ap_starts(void)
{
	for (u32 c = 1; c < smp_ncpus; c++)
		ap_starts[c] = smp_cpus[c].starts;
}

/* Every AP answers its mailbox and did not start again; false with why. */
bool aps_alive(void)
{
	for (u32 c = 1; c < smp_ncpus; c++) {
		const struct smp_cpu *s = &smp_cpus[c];
		if (!smp_call(c, job_nop, NULL)) {
			snprintf(why, sizeof(why), "cpu %u (APIC ID %u) no longer answers its mailbox "
				 "(within %u ms)", c, s->apic_id, smp_timeout_ms());
			return false;
		}
		if (s->starts != ap_starts[c]) {
			snprintf(why, sizeof(why), "cpu %u (APIC ID %u) started again (%u starts, "
				 "had %u): something sent it INIT/SIPI", c, s->apic_id, s->starts,
				 ap_starts[c]);
			return false;
		}
	}
	return true;
}

void check_aps(const char *chk)
{
	if (!aps_ok) {
		check_fail(chk, "the APs did not come up at the start (see aps_ready)");
		return;
	}
	check(chk, aps_alive(), "%s", why);
}
