/* hostile: everything a hostile guest would try, one attempt per CHECK line,
 * each judged by the ARCHITECTURAL answer -- what a real Intel CPU without
 * VMX exposed (CPUID.1:ECX.VMX = 0) gives. Classes, in order:
 *
 *   vmcall  every function 0..0x20f and the core's first 16, then hostile_vmcalls (2000) random ones
 *           with random RBX/RCX/RDX/RSI/RDI: no exception, unknown ones give
 *           HVABI_ERR_UNKNOWN, the non-output GPRs survive
 *   vmx     VMXON ... VMFUNC: #UD each
 *   msr     FEATURE_CONTROL, the VMX capability MSRs, EFER reserved bits,
 *           unknown MSRs, x2APIC MSRs in xAPIC mode, IA32_APIC_BASE
 *   cr      illegal CR0/CR3/CR4 values: #GP, register unchanged
 *   xsetbv  illegal XCR0 values and XCR indexes: #GP, XCR0 unchanged
 *   lapic   every xAPIC register read; odd-width and unaligned accesses;
 *           `rep movsl` from LVT LINT0 to the ICR
 *   icr     every delivery mode, physical and logical, to an absent APIC ID
 *           and to self; 1- and 8-byte ICR writes; an RMW `orl $0`
 *   com1    DLAB/divisor, IER/FCR/MCR garbage, loopback, a 100 KB flood
 *   memory  the hypervisor footprint (#GP), addresses nothing decodes
 *           (all ones, writes dropped)
 *   debug   INT3, ICEBP, a DR0 execute breakpoint across VMCALL and CPUID,
 *           TF across VMCALL, CPUID and a LAPIC read
 *   triple  last: a CMOS marker, then a triple fault; the hypervisor resets
 *           the machine and the second boot prints hostile.second_boot
 *
 * Checks the CPU itself decides run bare too (Bochs' answer validates them);
 * ones only the hypervisor can make true use check_need_hv(), and so do the
 * accesses that make Bochs' own LAPIC abort the emulator (odd-width or
 * unaligned writes, reads spanning two dwords: "undefined" on hardware).
 *
 * Options: hostile_seed=N (PRNG seed, printed; default from the TSC),
 * hostile_order=random (shuffle the classes, random values too; the triple
 * fault stays last), hostile_rounds=N (repeat the classes), hostile_vmcalls=N,
 * hostile_flood=BYTES (default 102400), hostile_triple=0 (no triple fault),
 * hostile_dr0=0 (no DR0 breakpoint: Bochs 3.0 SMP triple-faults on it, bare too).
 * Only run when named (scenarios=hostile); put it last on the list. */
#include "hostile.h"

/* ==== 11. the triple fault ============================================================ */
static __attribute__((noreturn)) void triple_fault(void)
{
	unsigned p, f;
	guest_counts(&p, &f);
	cmos_write(CMOS_MARK_LO, CMOS_MAGIC_LO);
	cmos_write(CMOS_MARK_HI, CMOS_MAGIC_HI);
	info("first boot: passed=%u failed=%u", p, f);
	info("CMOS marker set; triple fault now (zero-limit IDT, then ud2)");
	lsr_wait(0x40, 1000);
	udelay(300000);                     /* the hypervisor drains the guest's output */
	struct { u16 limit; u64 base; } __attribute__((packed)) none = { 0, 0 };
	asm volatile("cli\n\tlidt %0\n\tud2" :: "m"(none) : "memory");
	for (;;)
		asm volatile("hlt");
}

/* ==== the runner ======================================================================= */
struct hclass { const char *name; void (*fn)(void); };

static const struct hclass classes[] = {
	{ "vmcall", class_vmcall }, { "vmx", class_vmx }, { "msr", class_msr },
	{ "cr", class_cr }, { "xsetbv", class_xsetbv }, { "lapic", class_lapic },
	{ "icr", class_icr }, { "com1", class_com1 }, { "memory", class_memory },
	{ "debug", class_debug },
};

static void run(void)
{
	if (cmos_read(CMOS_MARK_LO) == CMOS_MAGIC_LO && cmos_read(CMOS_MARK_HI) == CMOS_MAGIC_HI) {
		cmos_write(CMOS_MARK_LO, 0);
		cmos_write(CMOS_MARK_HI, 0);
		info("CMOS marker found: this is the boot after the triple fault");
		check_pass("second_boot");
		return;
	}
	rng = cmdline_u64("hostile_seed", 0);
	if (!rng)
		rng = rdtsc() ^ 0x9e3779b97f4a7c15ull;
	u64 seed = rng;
	size_t n;
	const char *ord = cmdline_get("hostile_order", &n);
	random_mode = ord && n == 6 && !strncmp(ord, "random", 6);
	u32 rounds = (u32)cmdline_u64("hostile_rounds", 1);
	info("seed %lu (hostile_seed=%lu replays it), order %s, %u round(s)", seed, seed,
	     random_mode ? "random" : "fixed", rounds);

	if (!smp_ensure_up(why, sizeof(why))) {
		check_fail("aps_ready", "%s", why);
	} else {
		check_pass("aps_ready");
		aps_ok = true;
	}
	record_ap_starts();
	apic = lapic_mmio_base();
	if (!apic)
		apic = 0xfee00000ull;
	pic_mask1 = inb(0x21);
	pic_mask2 = inb(0xa1);
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	for (u32 v = 0; v < VEC_COUNT; v++)
		trap_set_hook(VEC_FIRST + v, vec_hook);

	u32 order[ARRAY_SIZE(classes)];
	for (u32 r = 0; r < rounds; r++) {
		for (u32 i = 0; i < ARRAY_SIZE(classes); i++)
			order[i] = i;
		if (random_mode)
			for (u32 i = ARRAY_SIZE(classes) - 1; i > 0; i--) {
				u32 j = (u32)rnd_below(i + 1), t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
		for (u32 i = 0; i < ARRAY_SIZE(classes); i++) {
			const struct hclass *k = &classes[order[i]];
			info("round %u: attempts '%s'", r + 1, k->name);
			k->fn();
			info("round %u: attempts '%s' done, the guest runs on", r + 1, k->name);
		}
	}
	if (smp_ncpus > 1) {
		check_aps("aps_alive");
		info("%u AP(s) answered after every attempt class", smp_ncpus - 1);
	} else {
		info("one CPU: no AP to check");
	}
	for (u32 v = 0; v < VEC_COUNT; v++)
		trap_set_hook(VEC_FIRST + v, NULL);
	outb(0x21, pic_mask1);
	outb(0xa1, pic_mask2);
	if (cmdline_u64("hostile_triple", 1))
		triple_fault();
	info("hostile_triple=0: no triple fault");
}

SCENARIO_EXPLICIT(90, hostile, run, "a hostile guest: every attempt gets the architectural "
		  "answer; ends with a triple fault and a second boot");
