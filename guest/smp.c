/* CPUs from the MADT, AP start-up (INIT-SIPI-SIPI into ap_boot.S's
 * trampoline), the APs' idle loop with its mailbox, and barriers.
 *
 * An AP, once started, sits in idle_loop(): interrupts off, it runs the job
 * in its mailbox if there is one, else `sti; hlt` until the poster's wake
 * IPI (SMP_WAKE_VECTOR) arrives -- no spinning, which matters in Bochs
 * where all CPUs share one host thread. APs never print: they record, the
 * BSP reports. An AP may be INITed at any time it is idle (rounds 2 and
 * 3), so it holds no lock there. */
#include "smp.h"

#define AP_STACK_SIZE   16384
#define AP_IST_SIZE     4096
#define INIT_DELAY_US   10000        /* MP spec: INIT, 10 ms, SIPI */
#define SIPI_DELAY_US   200          /* SIPI, 200 us, SIPI, 200 us */
#define LOW_MEM_END     0x9f000      /* nothing above: EBDA, ROMs */

struct smp_cpu smp_cpus[GUEST_MAX_CPUS];
u32 smp_ncpus;
volatile u32 smp_round;
u8 smp_vectors[SMP_TRAMPOLINES];

/* Read by ap_boot.S: the AP with APIC ID smp_boot_apic_id[i] is CPU i and
 * runs on smp_boot_stack[i]. */
u32 smp_boot_ncpus;
u32 smp_boot_apic_id[GUEST_MAX_CPUS];
u64 smp_boot_stack[GUEST_MAX_CPUS];

extern const u8 ap_tramp_start[], ap_tramp_end[];

static u8 ap_stack[GUEST_MAX_CPUS][AP_STACK_SIZE] __attribute__((aligned(16)));
static u8 ap_ist[GUEST_MAX_CPUS][3][AP_IST_SIZE] __attribute__((aligned(16)));
static bool discovered;
static volatile bool mode_x2apic;    /* what a starting AP switches to */

/* ---- CPU discovery ------------------------------------------------------------ */
/* The APIC ID the way ap_boot.S finds it: CPUID leaf 0xb, else leaf 1. */
static u32 cpuid_apic_id(void)
{
	u32 a, b, c, d;
	cpuid(0, 0, &a, &b, &c, &d);
	if (a >= 0xb) {
		cpuid(0xb, 0, &a, &b, &c, &d);
		if (b)
			return d;
	}
	cpuid(1, 0, &a, &b, &c, &d);
	return b >> 24;
}

static u32 madt_skipped;

static void madt_add(u32 apic_id, bool x2)
{
	for (u32 i = 0; i < smp_ncpus; i++) {
		if (smp_cpus[i].apic_id == apic_id) {
			smp_cpus[i].x2apic_entry |= x2;
			return;
		}
	}
	if (smp_ncpus == GUEST_MAX_CPUS) {
		madt_skipped++;
		return;
	}
	smp_cpus[smp_ncpus].apic_id = apic_id;
	smp_cpus[smp_ncpus].x2apic_entry = x2;
	smp_ncpus++;
}

/* Enabled processor LAPIC (type 0) and x2APIC (type 9) entries; the BSP
 * becomes index 0 (it is in the list, or the MADT is wrong). */
static bool madt_parse(char *why, size_t n)
{
	const struct sdt_header *m = acpi_find("APIC");
	if (!m) {
		snprintf(why, n, "no ACPI MADT ('APIC') found through the RSDP (%s)",
			 boot_info.rsdp ? "RSDP present" : "GRUB passed no RSDP");
		return false;
	}
	u32 bsp = cpuid_apic_id();
	smp_ncpus = 1;
	smp_cpus[0].apic_id = bsp;
	bool bsp_listed = false;
	const u8 *p = (const u8 *)m + 44, *end = (const u8 *)m + m->length;
	for (; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
		u32 id, flags;
		bool x2 = p[0] == 9;
		if (p[0] == 0 && p[1] >= 8) {
			id = p[3];
			flags = *(const u32 *)(p + 4);
			if (id == 0xff)
				continue;
		} else if (x2 && p[1] >= 16) {
			id = *(const u32 *)(p + 4);
			flags = *(const u32 *)(p + 8);
		} else {
			continue;
		}
		if (!(flags & 1))
			continue;                    /* disabled (maybe online-capable) */
		bsp_listed |= id == bsp;
		madt_add(id, x2);
	}
	if (!bsp_listed) {
		snprintf(why, n, "the BSP's APIC ID %u is not an enabled processor in the MADT", bsp);
		return false;
	}
	return true;
}

/* ---- trampolines below 1 MiB ------------------------------------------------ */
static bool page_free(u64 p)
{
	if (p >= 0x7000 && p < 0x8000)       /* boot sector and its stack */
		return false;
	if (p < boot_info.mbi_end && p + 4096 > boot_info.mbi_start)
		return false;
	for (u32 i = 0; i < boot_info.mmap_count; i++) {
		const struct mmap_entry *e = mmap_get(i);
		if (e->type == 1 && e->base <= p && p + 4096 <= e->base + e->len)
			return true;
	}
	return false;
}

/* One page per SIPI vector, from the top of conventional memory down
 * (where Linux puts its trampoline too), each a copy of the blob. */
static bool place_trampolines(char *why, size_t n)
{
	u32 found = 0;
	for (u64 p = LOW_MEM_END - 4096; p >= 0x1000 && found < SMP_TRAMPOLINES; p -= 4096) {
		if (!page_free(p))
			continue;
		memcpy((void *)p, ap_tramp_start, ap_tramp_end - ap_tramp_start);
		smp_vectors[found++] = (u8)(p >> 12);
	}
	if (found < SMP_TRAMPOLINES) {
		snprintf(why, n, "found %u of %u free pages below 0x%x in the memory map for "
			 "the AP trampolines", found, SMP_TRAMPOLINES, LOW_MEM_END);
		return false;
	}
	return true;
}

/* ---- per-CPU handlers ----------------------------------------------------------- */
static bool nmi_hook(struct trap_frame *f)
{
	smp_self()->nmi_received++;     /* only this CPU writes it; NMIs do not nest */
	return true;
}

static bool wake_hook(struct trap_frame *f)
{
	lapic_eoi();
	return true;
}

static bool spurious_hook(struct trap_frame *f)
{
	return true;                     /* no EOI for the spurious vector */
}

static void record_lvts(struct smp_cpu *s)
{
	s->lint0 = lapic_read(LAPIC_LVT_LINT0);
	s->lint1 = lapic_read(LAPIC_LVT_LINT1);
}

/* ---- the AP side ------------------------------------------------------------------ */
static __attribute__((noreturn)) void idle_loop(struct smp_cpu *s)
{
	for (;;) {
		asm volatile("cli" ::: "memory");
		u64 seq = __atomic_load_n(&s->job_seq, __ATOMIC_ACQUIRE);
		if (seq != s->done_seq) {
			s->job(s->job_arg);
			__atomic_store_n(&s->done_seq, seq, __ATOMIC_RELEASE);
			continue;
		}
		/* A wake IPI posted after the check above stays pending in the
		 * IRR and ends this hlt at once: no lost wake-up. */
		asm volatile("sti; hlt" ::: "memory");
	}
}

void ap_entry(u32 index, u32 vector);
void ap_entry(u32 index, u32 vector)
{
	struct smp_cpu *s = &smp_cpus[index];
	u8 *ist[3] = { ap_ist[index][0] + AP_IST_SIZE, ap_ist[index][1] + AP_IST_SIZE,
		       ap_ist[index][2] + AP_IST_SIZE };
	cpu_init(index, ist);
	lapic_set_mode(mode_x2apic, false);
	record_lvts(s);
	s->done_seq = s->job_seq;        /* a job an INIT cut short is dropped */
	s->vector = vector;
	s->round = smp_round;
	__atomic_add_fetch(&s->starts, 1, __ATOMIC_RELEASE);   /* "reported in" */
	idle_loop(s);
}

/* ---- mailboxes ---------------------------------------------------------------------- */
u32 smp_timeout_ms(void)
{
	static u32 ms;
	if (!ms)
		ms = (u32)cmdline_u64("smp_timeout_ms", 10000);
	return ms;
}

u64 smp_deadline(void) { return tsc_deadline_ms(smp_timeout_ms()); }

u32 smp_mask_aps(void) { return ((1u << smp_ncpus) - 1) & ~1u; }

void smp_post(u32 cpu, smp_job_fn fn, void *arg)
{
	struct smp_cpu *s = &smp_cpus[cpu];
	s->job = fn;
	s->job_arg = arg;
	__atomic_store_n(&s->job_seq, s->job_seq + 1, __ATOMIC_RELEASE);
	lapic_send(s->apic_id, ICR_FIXED | ICR_ASSERT | SMP_WAKE_VECTOR);
}

bool smp_wait_job(u32 cpu, u64 deadline)
{
	struct smp_cpu *s = &smp_cpus[cpu];
	while (__atomic_load_n(&s->done_seq, __ATOMIC_ACQUIRE) != s->job_seq) {
		if (tsc_expired(deadline))
			return false;
		cpu_relax();
	}
	return true;
}

bool smp_call(u32 cpu, smp_job_fn fn, void *arg)
{
	if (cpu == this_cpu()->index) {
		fn(arg);
		return true;
	}
	smp_post(cpu, fn, arg);
	return smp_wait_job(cpu, smp_deadline());
}

u32 smp_run(u32 mask, smp_job_fn fn, void *arg)
{
	u32 me = this_cpu()->index, late = 0;
	for (u32 c = 0; c < smp_ncpus; c++)
		if ((mask >> c & 1) && c != me)
			smp_post(c, fn, arg);
	if (mask >> me & 1)
		fn(arg);
	u64 deadline = smp_deadline();
	for (u32 c = 0; c < smp_ncpus; c++)
		if ((mask >> c & 1) && c != me && !smp_wait_job(c, deadline))
			late |= 1u << c;
	return late;
}

void smp_barrier_init(struct smp_barrier *b, u32 n)
{
	b->count = 0;
	b->gen = 0;
	b->n = n;
}

bool smp_barrier_wait(struct smp_barrier *b, u64 deadline)
{
	u32 gen = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE);
	if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == b->n) {
		b->count = 0;
		__atomic_store_n(&b->gen, gen + 1, __ATOMIC_RELEASE);
		return true;
	}
	while (__atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) == gen) {
		if (tsc_expired(deadline))
			return false;
		cpu_relax();
	}
	return true;
}

/* ---- discovery and modes ------------------------------------------------------------ */
bool smp_discover(char *why, size_t n)
{
	if (discovered)
		return true;
	tsc_khz();                       /* the BSP calibrates before any AP runs */
	if (!madt_parse(why, n) || !place_trampolines(why, n))
		return false;
	smp_boot_ncpus = smp_ncpus;
	for (u32 i = 0; i < smp_ncpus; i++) {
		smp_boot_apic_id[i] = smp_cpus[i].apic_id;
		smp_boot_stack[i] = i ? (u64)(ap_stack[i] + AP_STACK_SIZE) : 0;
	}
	trap_set_hook(2, nmi_hook);
	trap_set_hook(SMP_WAKE_VECTOR, wake_hook);
	trap_set_hook(SPURIOUS_VECTOR, spurious_hook);
	mode_x2apic = (rdmsr(0x1b) & 0xc00) == 0xc00;
	lapic_set_mode(mode_x2apic, true);
	record_lvts(&smp_cpus[0]);
	smp_cpus[0].up = true;
	discovered = true;

	for (u32 i = 0; i < smp_ncpus; i++)
		info("cpu %u: APIC ID %u (%s MADT entry)%s", i, smp_cpus[i].apic_id,
		     smp_cpus[i].x2apic_entry ? "x2APIC" : "LAPIC", i ? "" : ", the BSP");
	if (madt_skipped)
		info("%u more MADT CPUs ignored (the guest handles %u)", madt_skipped,
		     GUEST_MAX_CPUS);
	info("AP trampolines at 0x%x, 0x%x, 0x%x (SIPI vectors 0x%02x, 0x%02x, 0x%02x); "
	     "LAPIC MMIO at 0x%lx", smp_vectors[0] << 12, smp_vectors[1] << 12,
	     smp_vectors[2] << 12, smp_vectors[0], smp_vectors[1], smp_vectors[2],
	     lapic_mmio_base());
	return true;
}

static void job_set_mode(void *arg)
{
	lapic_set_mode(mode_x2apic, false);
	record_lvts(smp_self());
}

bool smp_set_mode(bool x2apic, char *why, size_t n)
{
	if (x2apic && !lapic_x2apic_supported()) {
		snprintf(why, n, "CPUID.1:ECX[21] (x2APIC) is 0: this CPU has no x2APIC mode");
		return false;
	}
	if (!x2apic && lapic_is_x2apic()) {
		snprintf(why, n, "the LAPICs are in x2APIC mode (an earlier scenario) and go back "
			 "to xAPIC only through a reset: run xAPIC scenarios first or in their own boot");
		return false;
	}
	mode_x2apic = x2apic;
	/* The APs first, while the BSP can still reach them in the old mode. */
	for (u32 c = 1; c < smp_ncpus; c++) {
		if (smp_cpus[c].up && !smp_call(c, job_set_mode, NULL)) {
			snprintf(why, n, "cpu %u (APIC ID %u) did not switch its LAPIC mode within %u ms",
				 c, smp_cpus[c].apic_id, smp_timeout_ms());
			return false;
		}
	}
	lapic_set_mode(x2apic, true);
	record_lvts(&smp_cpus[0]);
	u64 base = rdmsr(0x1b);
	bool now_x2 = (base & 0xc00) == 0xc00;
	if (now_x2 != x2apic || !(base & 0x800)) {
		snprintf(why, n, "IA32_APIC_BASE reads 0x%lx after switching to %s mode", base,
			 x2apic ? "x2APIC" : "xAPIC");
		return false;
	}
	return true;
}

/* ---- INIT-SIPI-SIPI ------------------------------------------------------------------ */
bool smp_init_sipi_sipi(u32 apic_id, u8 vector)
{
	bool ok = lapic_send(apic_id, ICR_INIT | ICR_LEVEL | ICR_ASSERT);
	udelay(INIT_DELAY_US);
	ok &= lapic_send(apic_id, ICR_INIT | ICR_LEVEL);    /* de-assert: ignored */
	for (int i = 0; i < 2; i++) {
		ok &= lapic_send(apic_id, ICR_STARTUP | ICR_ASSERT | vector);
		udelay(SIPI_DELAY_US);
	}
	return ok;
}

bool smp_init_sipi_sipi_others(u8 vector)
{
	bool ok = lapic_send(0, ICR_OTHERS | ICR_INIT | ICR_LEVEL | ICR_ASSERT);
	udelay(INIT_DELAY_US);
	for (int i = 0; i < 2; i++) {
		ok &= lapic_send(0, ICR_OTHERS | ICR_STARTUP | ICR_ASSERT | vector);
		udelay(SIPI_DELAY_US);
	}
	return ok;
}

static void job_nop(void *arg) { }

/* One CPU of smp_wait_started(); false with *why. */
static bool check_started(u32 c, u8 vector, u32 before, char *why, size_t n)
{
	struct smp_cpu *s = &smp_cpus[c];
	u32 starts = s->starts;
	if (starts == before) {
		snprintf(why, n, "cpu %u (APIC ID %u) did not report in within %u ms (round %u, "
			 "SIPI vector 0x%02x)", c, s->apic_id, smp_timeout_ms(), smp_round, vector);
		return false;
	}
	if (starts != before + 1 || s->round != smp_round || s->vector != vector) {
		snprintf(why, n, "cpu %u (APIC ID %u) started %u times in round %u, last reporting "
			 "round %u at vector 0x%02x; want once, at vector 0x%02x", c, s->apic_id,
			 starts - before, smp_round, s->round, s->vector, vector);
		return false;
	}
	if (!smp_call(c, job_nop, NULL)) {
		snprintf(why, n, "cpu %u (APIC ID %u) reported in but does not answer its mailbox "
			 "within %u ms", c, s->apic_id, smp_timeout_ms());
		return false;
	}
	return true;
}

bool smp_wait_started(u32 mask, u8 vector, const u32 *before, char *why, size_t n)
{
	u64 deadline = smp_deadline();
	for (u32 c = 0; c < smp_ncpus; c++) {
		if (!(mask >> c & 1))
			continue;
		smp_cpus[c].up = false;
		while (__atomic_load_n(&smp_cpus[c].starts, __ATOMIC_ACQUIRE) == before[c] &&
		       !tsc_expired(deadline))
			cpu_relax();
	}
	udelay(2000);                    /* a wrongly honoured second SIPI shows by now */
	u32 bad = 0;
	for (u32 c = 0; c < smp_ncpus; c++) {
		if (!(mask >> c & 1))
			continue;
		char w[192];
		if (check_started(c, vector, before[c], w, sizeof(w)))
			smp_cpus[c].up = true;
		else if (!bad++)
			snprintf(why, n, "%s", w);
	}
	if (bad > 1) {
		size_t l = strlen(why);
		snprintf(why + l, n - l, " (and %u more CPUs)", bad - 1);
	}
	return !bad;
}

bool smp_start_aps(u8 vector, char *why, size_t n)
{
	u32 before[GUEST_MAX_CPUS];
	for (u32 c = 0; c < smp_ncpus; c++)
		before[c] = smp_cpus[c].starts;
	for (u32 c = 1; c < smp_ncpus; c++)
		if (!smp_init_sipi_sipi(smp_cpus[c].apic_id, vector))
			info("cpu %u: the xAPIC ICR stayed busy while sending INIT-SIPI-SIPI", c);
	return smp_wait_started(smp_mask_aps(), vector, before, why, n);
}

bool smp_ensure_up(char *why, size_t n)
{
	if (!smp_discover(why, n))
		return false;
	bool all = true;
	for (u32 c = 1; c < smp_ncpus; c++)
		all &= smp_cpus[c].up;
	if (all)
		return true;
	info("starting the APs in the live %s mode (no smp_* scenario did)",
	     mode_x2apic ? "x2APIC" : "xAPIC");
	smp_round = 1;
	return smp_start_aps(smp_vectors[0], why, n);
}
