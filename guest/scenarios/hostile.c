/* hostile: everything a hostile guest would try, one attempt per CHECK line,
 * each judged by the ARCHITECTURAL answer -- what a real Intel CPU without
 * VMX exposed (CPUID.1:ECX.VMX = 0) gives. Classes, in order:
 *
 *   vmcall  every function 0..0x20f, then hostile_vmcalls (2000) random ones
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
 * hostile_flood=BYTES (default 102400), hostile_triple=0 (no triple fault).
 * Only run when named (scenarios=hostile); put it last on the list. */
#include "../smp.h"

#define CMOS_MARK_LO   0x4e          /* Bochs' BIOS uses 0x38/0x39 (boot order, */
#define CMOS_MARK_HI   0x4f          /* ATA translation): these two are free */
#define CMOS_MAGIC_LO  0x5a
#define CMOS_MAGIC_HI  0xc3

#define VEC_FIRST      0xe0          /* vectors 0xe0..0xe7: counted per CPU */
#define VEC_COUNT      8
#define ABSENT_ID      0xfe          /* no CPU has it (checked against the MADT) */
#define ABSENT_LOGICAL 0x80          /* no LDR is set: matches nobody (not 0xff!) */
#define ICR_LOGICAL    (1u << 11)
#define ICR_LOWPRI     0x100u
#define ICR_SMI        0x200u
#define ICR_EXTINT     0x700u
#define ICR_SELF       (1u << 18)

#define MSR_APIC_BASE  0x1b
#define MSR_EFER       0xc0000080u
#define EFER_LMA       (1ull << 10)
#define X86_CR0_PE     (1ull << 0)
#define X86_CR0_NW     (1ull << 29)
#define X86_CR0_CD     (1ull << 30)
#define X86_CR0_PG     (1ull << 31)
#define X86_CR4_OSXSAVE (1ull << 18)
#define RFLAGS_TF      (1ull << 8)
#define RFLAGS_RF      (1ull << 16)
#define DR6_BS         (1ull << 14)

static char why[384];
static u64 rng;
static bool random_mode;
static u16 com1 = 0x3f8;

/* ---- small helpers ------------------------------------------------------------ */
static u64 rnd(void)                 /* xorshift64* */
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static u64 rnd_below(u64 n) { return n ? rnd() % n : 0; }

/* Runs one instruction (the first of `body`) under a fixup: -1 or the vector. */
#define TRY(body, ...) ({                                                         \
	fault_arm();                                                              \
	asm volatile("1: " body "\n2:\n\t" EXTABLE(1b, 2b) __VA_ARGS__);          \
	fault_vector(); })

static inline u64 read_cr0(void) { u64 v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline u64 read_cr3(void) { u64 v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline u64 read_dr6(void) { u64 v; asm volatile("mov %%dr6, %0" : "=r"(v)); return v; }
static inline u64 read_dr7(void) { u64 v; asm volatile("mov %%dr7, %0" : "=r"(v)); return v; }
static inline void write_dr0(u64 v) { asm volatile("mov %0, %%dr0" :: "r"(v)); }
static inline void write_dr6(u64 v) { asm volatile("mov %0, %%dr6" :: "r"(v)); }
static inline void write_dr7(u64 v) { asm volatile("mov %0, %%dr7" :: "r"(v)); }
static int write_cr0(u64 v) { return TRY("mov %0, %%cr0", :: "r"(v) : "memory"); }
static int write_cr3(u64 v) { return TRY("mov %0, %%cr3", :: "r"(v) : "memory"); }
static int write_cr4(u64 v) { return safe_write_cr4(v); }

static u64 xgetbv0(void)
{
	u32 lo, hi;
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (u64)hi << 32 | lo;
}

static int xsetbv_raw(u64 rcx, u64 val)
{
	return TRY("xsetbv", :: "c"(rcx), "a"((u32)val), "d"((u32)(val >> 32)) : "memory");
}

static int read32(u64 a, u32 *v)
{
	u32 x = 0;
	int r = TRY("movl (%1), %0", : "+r"(x) : "r"(a) : "memory");
	*v = x;
	return r;
}

static int write32(u64 a, u32 v) { return TRY("movl %1, (%0)", :: "r"(a), "r"(v) : "memory"); }

static u8 cmos_read(u8 reg) { outb(0x70, reg); return inb(0x71); }
static void cmos_write(u8 reg, u8 v) { outb(0x70, reg); outb(0x71, v); }

static u32 maxphyaddr(void)
{
	u32 a, b, c, d;
	cpuid(0x80000000u, 0, &a, &b, &c, &d);
	if (a < 0x80000008u)
		return 36;
	cpuid(0x80000008u, 0, &a, &b, &c, &d);
	return a & 0xff;
}

/* Expected #GP(0): ok, else *why says what happened. */
static bool want_gp(int v, const char *what)
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

static bool vec_hook(struct trap_frame *f)
{
	vec_count[this_cpu()->index][f->vector - VEC_FIRST]++;
	lapic_eoi();
	return true;
}

static u8 pic_mask1, pic_mask2;

/* A window with interrupts on: the 8259 stays masked (its IRQs would come at
 * BIOS vectors 8..15), so only LAPIC interrupts arrive. */
static void irq_window(u64 us)
{
	asm volatile("sti" ::: "memory");
	udelay(us);
	asm volatile("cli" ::: "memory");
}

static void vec_snapshot(u32 snap[GUEST_MAX_CPUS][VEC_COUNT])
{
	for (u32 c = 0; c < GUEST_MAX_CPUS; c++)
		for (u32 v = 0; v < VEC_COUNT; v++)
			snap[c][v] = vec_count[c][v];
}

/* Arrivals since snap: total over all CPUs and vectors, and at (cpu, vec). */
static u32 vec_since(u32 snap[GUEST_MAX_CPUS][VEC_COUNT], u32 cpu, u32 vec, u32 *total)
{
	u32 t = 0;
	for (u32 c = 0; c < GUEST_MAX_CPUS; c++)
		for (u32 v = 0; v < VEC_COUNT; v++)
			t += vec_count[c][v] - snap[c][v];
	*total = t;
	return vec_count[cpu][vec - VEC_FIRST] - snap[cpu][vec - VEC_FIRST];
}

static u64 nmi_total(void)
{
	u64 n = 0;
	for (u32 c = 0; c < smp_ncpus; c++)
		n += smp_cpus[c].nmi_received;
	return n;
}

/* ---- the APs: still running, never restarted ------------------------------------ */
static u32 ap_starts[GUEST_MAX_CPUS];
static bool aps_ok;                  /* APs were up after start-up */

static void job_nop(void *arg) { }

static void record_ap_starts(void)
{
	for (u32 c = 1; c < smp_ncpus; c++)
		ap_starts[c] = smp_cpus[c].starts;
}

/* Every AP answers its mailbox and did not start again; false with why. */
static bool aps_alive(void)
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

static void check_aps(const char *chk)
{
	if (!aps_ok) {
		check_fail(chk, "the APs did not come up at the start (see aps_ready)");
		return;
	}
	check(chk, aps_alive(), "%s", why);
}

/* ==== 1. VMCALL ================================================================== */
struct vmcall_verdict { u32 bad; char first[200]; };

static bool known_fn(u32 fn)
{
	return fn == HVABI_VMCALL_PING || fn == HVABI_VMCALL_FOOTPRINT || fn == HVABI_VMCALL_PRINT ||
	       fn == HVABI_VMCALL_DIAG_EXITS || fn == HVABI_VMCALL_DIAG_QUIESCE ||
	       fn == HVABI_VMCALL_DIAG_NMI_STATS;
}

static void vmcall_one(struct vmcall_regs *in, struct vmcall_verdict *vd)
{
	struct vmcall_regs r = *in;
	u32 fn = (u32)in->rax;
	int v = vmcall_regs(&r);
	const char *bad = NULL;
	char tmp[120];
	if (v >= 0) {
		snprintf(tmp, sizeof(tmp), "raised %s (vector %d)", vector_name((unsigned)v), v);
		bad = tmp;
	} else if ((fn != HVABI_VMCALL_DIAG_NMI_STATS && r.rdx != in->rdx) || r.rsi != in->rsi || r.rdi != in->rdi || r.rbp != in->rbp ||
		   r.r8 != in->r8 || r.r9 != in->r9 || r.r10 != in->r10 || r.r11 != in->r11 ||
		   r.r12 != in->r12 || r.r13 != in->r13 || r.r14 != in->r14 || r.r15 != in->r15) {
		bad = "changed a GPR that is not an output (RDX..R15; RDX is one for DIAG_NMI_STATS)";
	} else {
		u32 eax = (u32)r.rax;
		bool ok;
		switch (fn) {
		case HVABI_VMCALL_PING:
			ok = eax == HVABI_OK && (u32)r.rbx == HVABI_PING_MAGIC &&
			     (u32)r.rcx == (u32)in->rcx + 1;
			break;
		case HVABI_VMCALL_PRINT:
			ok = eax == HVABI_OK || eax == HVABI_ERR_BADARG;
			break;
		case HVABI_VMCALL_DIAG_QUIESCE:
			ok = eax == HVABI_OK || eax == HVABI_ERR_QUIESCE;
			break;
		case HVABI_VMCALL_FOOTPRINT:
		case HVABI_VMCALL_DIAG_EXITS:
		case HVABI_VMCALL_DIAG_NMI_STATS:
			ok = eax == HVABI_OK;
			break;
		default:
			ok = eax == HVABI_ERR_UNKNOWN;
		}
		if (!ok) {
			snprintf(tmp, sizeof(tmp), "returned eax=0x%x%s", eax,
				 known_fn(fn) ? " (a known function answered wrong)" :
				 ", want HVABI_ERR_UNKNOWN 0xffffffff");
			bad = tmp;
		}
	}
	if (bad && !vd->bad++)
		snprintf(vd->first, sizeof(vd->first), "rax=0x%lx rbx=0x%lx: %s", in->rax, in->rbx, bad);
}

static u64 random_pointer(void)
{
	switch (rnd_below(3)) {
	case 0: return rnd_below(IDENTITY_MAP_END);
	case 1: return rnd_below(0x10000000);     /* mostly RAM */
	default: return rnd();
	}
}

static void random_regs(struct vmcall_regs *r)
{
	*r = (struct vmcall_regs){ .rbx = rnd(), .rcx = rnd(), .rdx = rnd(), .rsi = rnd(),
				   .rdi = rnd(), .rbp = 0xb0b0b0b0b0b0b0b0ull,
				   .r8 = 0x0808080808080808ull, .r9 = 0x0909090909090909ull,
				   .r10 = rnd(), .r11 = rnd(), .r12 = 0x1212121212121212ull,
				   .r13 = rnd(), .r14 = 0x1414141414141414ull, .r15 = rnd() };
}

static void class_vmcall(void)
{
	if (!check_need_hv("vmcall_sweep")) {
		struct vmcall_verdict vd = { 0 };
		for (u32 fn = 0; fn <= 0x20f; fn++) {
			struct vmcall_regs r;
			random_regs(&r);
			r.rax = fn;
			if (fn == HVABI_VMCALL_PRINT)
				r.rbx = random_pointer();
			vmcall_one(&r, &vd);
		}
		check("vmcall_sweep", !vd.bad, "%u of the functions 0..0x20f answered wrong; first: %s",
		      vd.bad, vd.first);
	}
	if (!check_need_hv("vmcall_random")) {
		u32 n = (u32)cmdline_u64("hostile_vmcalls", 2000);
		struct vmcall_verdict vd = { 0 };
		for (u32 i = 0; i < n; i++) {
			struct vmcall_regs r;
			random_regs(&r);
			switch (rnd_below(4)) {
			case 0: r.rax = rnd_below(0x210); break;
			case 1: r.rax = (rnd() & ~0xffffffffull) | rnd_below(0x210); break;
			default: r.rax = rnd(); break;
			}
			if ((u32)r.rax == HVABI_VMCALL_PRINT)
				r.rbx = random_pointer();
			vmcall_one(&r, &vd);
		}
		check("vmcall_random", !vd.bad, "%u of %u random VMCALLs answered wrong; first: %s",
		      vd.bad, n, vd.first);
	}
}

/* ==== 2. VMX instructions: #UD ===================================================== */
static u8 vmx_page[4096] __attribute__((aligned(4096)));

static int vmx_insn(int i)
{
	u64 pa = (u64)vmx_page, out = 0, field = 0x4400 /* VM_INSTRUCTION_ERROR */, val = 0;
	struct { u64 a, b; } desc = { 0, 0 };
	switch (i) {
	case 0: return TRY("vmxon %0", :: "m"(pa) : "memory");
	case 1: return TRY("vmptrld %0", :: "m"(pa) : "memory");
	case 2: return TRY("vmread %1, %0", : "+r"(out) : "r"(field) : "memory", "cc");
	case 3: return TRY("vmwrite %0, %1", :: "r"(val), "r"(field) : "memory", "cc");
	case 4: return TRY("vmclear %0", :: "m"(pa) : "memory");
	case 5: return TRY("vmlaunch", ::: "memory", "cc");
	case 6: return TRY("vmresume", ::: "memory", "cc");
	case 7: return TRY("vmxoff", ::: "memory", "cc");
	case 8: return TRY("invept %0, %1", :: "m"(desc), "r"(2ull) : "memory", "cc");
	case 9: return TRY("invvpid %0, %1", :: "m"(desc), "r"(2ull) : "memory", "cc");
	case 10: return TRY("vmptrst %0", : "=m"(out) :: "memory");
	default: return TRY("vmfunc", :: "a"(0), "c"(0) : "memory");
	}
}

static void class_vmx(void)
{
	static const char *const names[] = { "vmxon", "vmptrld", "vmread", "vmwrite", "vmclear",
		"vmlaunch", "vmresume", "vmxoff", "invept", "invvpid", "vmptrst", "vmfunc" };
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	info("CPUID.1:ECX.VMX = %u, CR4 = 0x%lx", c >> 5 & 1, read_cr4());
	for (int i = 0; i < (int)ARRAY_SIZE(names); i++) {
		char chk[32];
		snprintf(chk, sizeof(chk), "vmx_%s_ud", names[i]);
		int v = vmx_insn(i);
		check(chk, v == 6, "%s %s, want #UD", names[i],
		      v < 0 ? "completed" : vector_name((unsigned)v));
	}
}

/* ==== 3. MSRs ====================================================================== */
static void msr_gp_range(const char *chk, u32 first, u32 last, bool writes,
			 bool (*skip)(u32 msr))
{
	u32 bad = 0, at = 0;
	int v0 = -1;
	for (u32 m = first; m <= last; m++) {
		u64 x = 0;
		if (skip && skip(m))
			continue;
		int v = writes ? safe_wrmsr(m, 0) : safe_rdmsr(m, &x);
		if ((v != 13 || fault_error()) && !bad++) {
			at = m;
			v0 = v;
		}
	}
	check(chk, !bad, "%u of the MSRs 0x%x..0x%x %s without #GP(0) (first 0x%x: %s)", bad,
	      first, last, writes ? "took a write" : "read", at,
	      v0 < 0 ? "completed" : vector_name((unsigned)v0));
}

/* x2APIC MSRs whose write would do harm if a broken hypervisor let it through. */
static bool x2apic_write_harmful(u32 m)
{
	return m == 0x80f || (m >= 0x82f && m <= 0x838) || m == 0x83e || m == 0x83f;
}

static void class_msr(void)
{
	u64 fc = 0, x;
	int v = safe_rdmsr(HVABI_MSR_FEATURE_CONTROL, &fc);
	if (!check_need_hv("msr_feature_control_read"))
		check("msr_feature_control_read", v < 0 && (fc & HVABI_FC_LOCK) &&
		      !(fc & (HVABI_FC_VMX_IN_SMX | HVABI_FC_VMX_OUTSIDE_SMX)),
		      "rdmsr 0x3a: vector %d, value 0x%lx; want locked with VMX off", v, fc);
	if (!check_need_hv("msr_feature_control_write_gp")) {
		v = safe_wrmsr(HVABI_MSR_FEATURE_CONTROL, fc | HVABI_FC_VMX_OUTSIDE_SMX);
		u64 after = 0;
		safe_rdmsr(HVABI_MSR_FEATURE_CONTROL, &after);
		bool ok = want_gp(v, "wrmsr 0x3a (VMX on)");
		check("msr_feature_control_write_gp", ok && after == fc, "%s; 0x%lx -> 0x%lx",
		      ok ? "the write was refused" : why, fc, after);
	}
	if (!check_need_hv("msr_vmx_caps_read_gp"))
		msr_gp_range("msr_vmx_caps_read_gp", HVABI_MSR_VMX_FIRST, HVABI_MSR_VMX_LAST, false, NULL);
	/* Read-only on every CPU that has them: #GP bare as well. */
	msr_gp_range("msr_vmx_caps_write_gp", HVABI_MSR_VMX_FIRST, HVABI_MSR_VMX_LAST, true, NULL);

	/* EFER: bits other than SCE, LME, LMA, NXE are reserved on Intel. */
	u64 efer = rdmsr(MSR_EFER);
	static const u64 efer_bad[] = { 1ull << 1, 1ull << 9, 1ull << 12, 1ull << 16, 1ull << 63 };
	u32 bad = 0;
	char first[160] = "";
	for (u32 i = 0; i < ARRAY_SIZE(efer_bad) + (random_mode ? 4 : 0); i++) {
		u64 bit = i < ARRAY_SIZE(efer_bad) ? efer_bad[i] : 1ull << (16 + rnd_below(48));
		v = safe_wrmsr(MSR_EFER, efer | bit);
		u64 after = rdmsr(MSR_EFER);
		if (!want_gp(v, "wrmsr EFER") || after != efer) {
			if (after != efer)
				safe_wrmsr(MSR_EFER, efer);
			if (!bad++)
				snprintf(first, sizeof(first), "EFER 0x%lx | 0x%lx: %s; reads 0x%lx after",
					 efer, bit, v == 13 ? "#GP" : why, after);
		}
	}
	check("msr_efer_reserved_gp", !bad, "%u reserved EFER bits accepted; first: %s", bad, first);

	/* MSRs no CPU has. */
	u32 unknown[6] = { 0x40000123u, 0xdeadbeefu, 0x40000fffu, 0xc0ffee00u };
	u32 nunknown = 4;
	if (random_mode) {
		unknown[nunknown++] = 0x40000200u + (u32)rnd_below(0x1000);
		unknown[nunknown++] = 0xdead0000u + (u32)rnd_below(0x10000);
	}
	bad = 0;
	for (u32 i = 0; i < nunknown; i++) {
		int r = safe_rdmsr(unknown[i], &x);
		int w = safe_wrmsr(unknown[i], 0x1234);
		if ((r != 13 || w != 13) && !bad++)
			snprintf(first, sizeof(first), "MSR 0x%x: read %s, write %s", unknown[i],
				 r < 0 ? "completed" : vector_name((unsigned)r),
				 w < 0 ? "completed" : vector_name((unsigned)w));
	}
	check("msr_unknown_gp", !bad, "%u unknown MSRs without #GP; first: %s", bad, first);

	/* x2APIC MSRs while the LAPIC is in xAPIC mode. */
	if (lapic_is_x2apic()) {
		info("the LAPIC is in x2APIC mode: the xAPIC-mode MSR checks do not apply");
	} else {
		msr_gp_range("msr_x2apic_read_gp", 0x800, 0x83f, false, NULL);
		msr_gp_range("msr_x2apic_write_gp", 0x800, 0x83f, true, x2apic_write_harmful);
	}

	/* IA32_APIC_BASE. */
	u64 base = rdmsr(MSR_APIC_BASE);
	info("IA32_APIC_BASE = 0x%lx, MAXPHYADDR %u", base, maxphyaddr());
	v = safe_wrmsr(MSR_APIC_BASE, base);
	x = rdmsr(MSR_APIC_BASE);
	check("msr_apic_base_rewrite", v < 0 && x == base,
	      "writing IA32_APIC_BASE back (0x%lx) gave vector %d, reads 0x%lx", base, v, x);

	if (!check_need_hv("msr_apic_base_relocation_ignored")) {
		u64 moved = (base & 0xfff) | 0xfe000000ull;
		v = safe_wrmsr(MSR_APIC_BASE, moved);
		x = rdmsr(MSR_APIC_BASE);
		u32 id = 0;
		int rid = read32(0xfee00020, &id);
		if (x != base)
			safe_wrmsr(MSR_APIC_BASE, base);
		check("msr_apic_base_relocation_ignored", v < 0 && x == base && rid < 0 &&
		      id >> 24 == (smp_cpus[0].apic_id & 0xff),
		      "IA32_APIC_BASE := 0x%lx gave vector %d, reads 0x%lx (want 0x%lx), LAPIC ID at "
		      "0xfee00020 reads 0x%x (vector %d), want APIC ID %u", moved, v, x, base, id,
		      rid, smp_cpus[0].apic_id);
	}

	/* Illegal mode changes and reserved bits: #GP, unchanged. */
	u64 illegal[8] = { (base & ~(1ull << 11)) | (1ull << 10),    /* x2APIC without enable */
			   base | (1ull << 9), base | 0xffull, base | (1ull << 63) };
	u32 nill = 4;
	if (maxphyaddr() < 52)
		illegal[nill++] = base | (1ull << maxphyaddr());
	if (random_mode)
		illegal[nill++] = base | (1ull << (52 + rnd_below(12)));
	bad = 0;
	for (u32 i = 0; i < nill; i++) {
		v = safe_wrmsr(MSR_APIC_BASE, illegal[i]);
		x = rdmsr(MSR_APIC_BASE);
		if (v != 13 || x != base) {
			if (x != base)
				safe_wrmsr(MSR_APIC_BASE, base);
			if (!bad++)
				snprintf(first, sizeof(first), "0x%lx: %s, reads 0x%lx", illegal[i],
					 v < 0 ? "completed" : vector_name((unsigned)v), x);
		}
	}
	check("msr_apic_base_illegal_gp", !bad, "%u illegal IA32_APIC_BASE values without #GP "
	      "or changed it; first: %s", bad, first);
}

/* ==== 4. control registers ==========================================================*/
static void cr_case(const char *chk, int which, u64 val)
{
	u64 before = which == 0 ? read_cr0() : which == 3 ? read_cr3() : read_cr4();
	int v = which == 0 ? write_cr0(val) : which == 3 ? write_cr3(val) : write_cr4(val);
	u64 after = which == 0 ? read_cr0() : which == 3 ? read_cr3() : read_cr4();
	char what[64];
	snprintf(what, sizeof(what), "mov 0x%lx to CR%d", val, which);
	bool ok = want_gp(v, what);
	if (after != before) {
		if (which == 0)
			write_cr0(before);
		else if (which == 3)
			write_cr3(before);
		else
			write_cr4(before);
	}
	check(chk, ok && after == before, "%s; CR%d 0x%lx -> 0x%lx", ok ? "#GP" : why, which,
	      before, after);
}

static void class_cr(void)
{
	u64 cr0 = read_cr0(), cr4 = read_cr4(), cr3 = read_cr3();
	info("CR0 = 0x%lx, CR3 = 0x%lx, CR4 = 0x%lx", cr0, cr3, cr4);
	cr_case("cr0_pg_without_pe_gp", 0, cr0 & ~X86_CR0_PE);
	cr_case("cr0_bit32_gp", 0, cr0 | (1ull << 32));
	if (random_mode)
		cr_case("cr0_high_random_gp", 0, cr0 | (1ull << (32 + rnd_below(32))));
	cr_case("cr0_nw_without_cd_gp", 0, (cr0 | X86_CR0_NW) & ~X86_CR0_CD);
	cr_case("cr0_pg_off_in_long_mode_gp", 0, cr0 & ~X86_CR0_PG);
	u64 efer = rdmsr(MSR_EFER);
	check("still_long_mode", (efer & EFER_LMA) && (read_cr0() & X86_CR0_PG),
	      "EFER = 0x%lx, CR0 = 0x%lx: not in long mode any more", efer, read_cr0());
	if (!check_need_hv("cr4_vmxe_gp"))
		cr_case("cr4_vmxe_gp", 4, cr4 | HVABI_CR4_VMXE);
	cr_case("cr4_reserved_bit15_gp", 4, cr4 | (1ull << 15));
	cr_case("cr4_reserved_bit63_gp", 4, cr4 | (1ull << 63));
	if (random_mode)
		cr_case("cr4_reserved_random_gp", 4, cr4 | (1ull << (32 + rnd_below(32))));
	u32 mp = maxphyaddr();
	if (mp < 52)
		cr_case("cr3_above_maxphyaddr_gp", 3, cr3 | (1ull << (mp + (random_mode ?
			rnd_below(52 - mp) : 0))));
	else
		info("MAXPHYADDR is 52: no CR3 bit above it to try");
}

/* ==== 5. XSETBV ======================================================================*/
static void xsetbv_case(const char *chk, u64 rcx, u64 val)
{
	u64 before = xgetbv0();
	int v = xsetbv_raw(rcx, val);
	u64 after = xgetbv0();
	char what[80];
	snprintf(what, sizeof(what), "xsetbv rcx=0x%lx value 0x%lx", rcx, val);
	bool ok = want_gp(v, what);
	if (after != before)
		xsetbv_raw(0, before);
	check(chk, ok && after == before, "%s; XCR0 0x%lx -> 0x%lx", ok ? "#GP" : why, before, after);
}

static void class_xsetbv(void)
{
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 26))) {
		info("CPUID.1:ECX.XSAVE = 0: no XSETBV checks");
		return;
	}
	u64 cr4 = read_cr4();
	if (!(cr4 & X86_CR4_OSXSAVE) && write_cr4(cr4 | X86_CR4_OSXSAVE) >= 0) {
		check_fail("xsetbv_osxsave", "setting CR4.OSXSAVE raised %s", vector_name(
			   (unsigned)fault_vector()));
		return;
	}
	cpuid(0xd, 0, &a, &b, &c, &d);
	u64 supported = (u64)d << 32 | a;
	u64 xcr0 = xgetbv0();
	info("XCR0 = 0x%lx, supported 0x%lx", xcr0, supported);
	xsetbv_case("xsetbv_opmask_without_zmm_gp", 0, 0x27);
	xsetbv_case("xsetbv_no_x87_gp", 0, 0x2);
	xsetbv_case("xsetbv_avx_without_sse_gp", 0, 0x5);
	xsetbv_case("xsetbv_ecx1_gp", 1, 0x3);
	if (random_mode)
		xsetbv_case("xsetbv_ecx_random_gp", 2 + rnd_below(0xfffffffd), 0x3);
	xsetbv_case("xsetbv_bit63_gp", 0, 0x3 | (1ull << 63));
	u64 unsup = ~supported & ~1ull;
	unsup &= (unsup & 0xffffffffull) ? 0xffffffffull : ~0ull;   /* prefer a low bit */
	if (unsup) {
		u64 bit = unsup & -unsup;
		if (random_mode) {
			u32 cnt = 0;
			for (u64 m = unsup; m; m &= m - 1)
				cnt++;
			u32 pick = (u32)rnd_below(cnt);
			for (u64 m = unsup; m; m &= m - 1)
				if (!pick--) {
					bit = m & -m;
					break;
				}
		}
		xsetbv_case("xsetbv_unsupported_bit_gp", 0, 0x3 | bit);
	}
	/* Only ECX names the XCR: junk in RCX[63:32] must not matter. */
	int v = xsetbv_raw(0xdeadbeef00000000ull, 0x3);
	u64 now = xgetbv0();
	check("xsetbv_rcx_high_ignored", v < 0 && now == 0x3,
	      "xsetbv rcx=0xdeadbeef00000000 value 0x3 gave vector %d, XCR0 reads 0x%lx", v, now);
	xsetbv_raw(0, xcr0);
	if (!(cr4 & X86_CR4_OSXSAVE))
		write_cr4(cr4);
}

/* ==== 6. the xAPIC page ============================================================= */
static u64 apic;                      /* 0xfee00000 normally */

static void class_lapic(void)
{
	u32 bad = 0, at = 0;
	int v0 = -1;
	u32 val;
	for (u32 off = 0; off <= 0xff0; off += 0x10) {
		int v = read32(apic + off, &val);
		if (v >= 0 && !bad++) {
			at = off;
			v0 = v;
		}
	}
	check("lapic_read_all", !bad, "%u of the 256 registers faulted on a 32-bit read (first "
	      "offset 0x%x: %s)", bad, at, v0 >= 0 ? vector_name((unsigned)v0) : "");
	if (random_mode)
		for (int i = 0; i < 16; i++)
			read32(apic + (rnd_below(0x100) << 4), &val);

	/* Narrow reads inside one dword (Bochs' LAPIC allows them). */
	u8 b8 = 0;
	u16 b16 = 0;
	u64 tpr = apic + LAPIC_TPR;
	int v1 = TRY("movb (%1), %0", : "=q"(b8) : "r"(tpr) : "memory");
	int v2 = TRY("movb (%1), %0", : "=q"(b8) : "r"(tpr + 1) : "memory");
	int v3 = TRY("movw (%1), %0", : "=r"(b16) : "r"(tpr) : "memory");
	int v4 = TRY("movw (%1), %0", : "=r"(b16) : "r"(tpr + 2) : "memory");
	int v5 = TRY("movb (%1), %0", : "=q"(b8) : "r"(apic + 0x3c3) : "memory");
	check("lapic_narrow_reads", v1 < 0 && v2 < 0 && v3 < 0 && v4 < 0 && v5 < 0,
	      "1-/2-byte reads of TPR and 0x3c0 raised vectors %d %d %d %d %d", v1, v2, v3, v4, v5);

	u32 tpr0 = lapic_read(LAPIC_TPR), err0 = lapic_read(LAPIC_LVT_ERROR);
	if (!check_need_hv("lapic_wide_unaligned_reads")) {
		u64 q = 0;
		u32 d = 0;
		int r1 = TRY("movq (%1), %0", : "=r"(q) : "r"(tpr) : "memory");
		int r2 = TRY("movl (%1), %0", : "=r"(d) : "r"(tpr + 1) : "memory");
		int r3 = TRY("movl (%1), %0", : "=r"(d) : "r"(tpr + 2) : "memory");
		int r4 = TRY("movw (%1), %0", : "=r"(b16) : "r"(tpr + 3) : "memory");
		int r5 = TRY("movq (%1), %0", : "=r"(q) : "r"(tpr + 0xc) : "memory");
		int r6 = TRY("movq (%1), %0", : "=r"(q) : "r"(apic + 0x3c0) : "memory");
		check("lapic_wide_unaligned_reads", r1 < 0 && r2 < 0 && r3 < 0 && r4 < 0 && r5 < 0 &&
		      r6 < 0, "8-byte and unaligned reads raised vectors %d %d %d %d %d %d",
		      r1, r2, r3, r4, r5, r6);
	}
	if (!hv.present) {
		check_need_hv("lapic_odd_writes");
		check_need_hv("lapic_odd_writes_dropped");
	} else {
		u64 lvte = apic + LAPIC_LVT_ERROR, rsv = apic + 0x3c0;
		u64 q = 0x20, qe = LVT_MASKED | 0xfd;
		static const char *const what[12] = {
			"1-byte 0x20 to TPR", "2-byte 0x20 to TPR", "8-byte 0x20 to TPR",
			"4-byte 0x20 to TPR+1", "4-byte 0x20 to TPR+2", "1-byte 0xfd to LVT error",
			"8-byte 0x100fd to LVT error", "4-byte 1 to LVT error+2", "1-byte 0 to 0x3c0",
			"2-byte 0 to 0x3c1", "8-byte 0 to 0x3c0", "4-byte 0 to 0x3ce (spans 0x3d0)" };
		int fault_i = -1, took_i = -1, fv = -1;
		u32 tpr1 = tpr0, err1 = err0;
		for (int i = 0; i < 12; i++) {
			int w;
			switch (i) {
			case 0: w = TRY("movb %1, (%0)", :: "r"(tpr), "q"((u8)0x20) : "memory"); break;
			case 1: w = TRY("movw %1, (%0)", :: "r"(tpr), "r"((u16)0x20) : "memory"); break;
			case 2: w = TRY("movq %1, (%0)", :: "r"(tpr), "r"(q) : "memory"); break;
			case 3: w = TRY("movl %1, (%0)", :: "r"(tpr + 1), "r"(0x20u) : "memory"); break;
			case 4: w = TRY("movl %1, (%0)", :: "r"(tpr + 2), "r"(0x20u) : "memory"); break;
			case 5: w = TRY("movb %1, (%0)", :: "r"(lvte), "q"((u8)0xfd) : "memory"); break;
			case 6: w = TRY("movq %1, (%0)", :: "r"(lvte), "r"(qe) : "memory"); break;
			case 7: w = TRY("movl %1, (%0)", :: "r"(lvte + 2), "r"(1u) : "memory"); break;
			case 8: w = TRY("movb %1, (%0)", :: "r"(rsv), "q"((u8)0) : "memory"); break;
			case 9: w = TRY("movw %1, (%0)", :: "r"(rsv + 1), "r"((u16)0) : "memory"); break;
			case 10: w = TRY("movq %1, (%0)", :: "r"(rsv), "r"(0ull) : "memory"); break;
			default: w = TRY("movl %1, (%0)", :: "r"(rsv + 0xe), "r"(0u) : "memory"); break;
			}
			if (w >= 0 && fault_i < 0) {
				fault_i = i;
				fv = w;
			}
			u32 t = lapic_read(LAPIC_TPR), e = lapic_read(LAPIC_LVT_ERROR);
			if ((t != tpr0 || e != err0) && took_i < 0) {
				took_i = i;
				tpr1 = t;
				err1 = e;
			}
			lapic_write(LAPIC_TPR, tpr0);
			lapic_write(LAPIC_LVT_ERROR, err0);
		}
		check("lapic_odd_writes", fault_i < 0, "odd-width/unaligned write (%s) raised %s",
		      fault_i >= 0 ? what[fault_i] : "", fv >= 0 ? vector_name((unsigned)fv) : "");
		check("lapic_odd_writes_dropped", took_i < 0, "the %s was not dropped: TPR 0x%x -> "
		      "0x%x, LVT error 0x%x -> 0x%x (first of the odd writes that took effect)",
		      took_i >= 0 ? what[took_i] : "", tpr0, tpr1, err0, err1);
		lapic_write(LAPIC_TPR, tpr0);
		lapic_write(LAPIC_LVT_ERROR, err0);
	}

	/* rep movsl: LVT LINT0 -> ICR low, the destination an absent APIC ID. */
	lapic_write(LAPIC_ICR_HI, (u32)ABSENT_ID << 24);
	u64 src = apic + LAPIC_LVT_LINT0, dst = apic + LAPIC_ICR_LO, cnt = 1;
	u64 nmi0 = nmi_total();
	int vs = TRY("rep movsl", : "+S"(src), "+D"(dst), "+c"(cnt) :: "memory");
	udelay(2000);
	check("lapic_rep_movs_icr", vs < 0 && cnt == 0 && nmi_total() == nmi0,
	      "rep movsl LINT0 -> ICR: vector %d, rcx left %lu, NMIs %lu -> %lu", vs, cnt, nmi0,
	      nmi_total());
	if (smp_ncpus > 1)
		check_aps("lapic_aps_alive");
}

/* ==== 7. the ICR ===================================================================== */
static bool send(u32 dest, u32 icr)
{
	return lapic_send(dest, icr);
}

/* Send, let interrupts in, and judge: want_self arrivals of vec on the BSP
 * (want_self < 0: 0 or 1), nothing anywhere else, want_nmi NMIs in all. */
static void icr_case(const char *chk, const char *what, u32 dest, u32 icr, int want_self,
		     u32 want_nmi)
{
	u32 snap[GUEST_MAX_CPUS][VEC_COUNT], total;
	vec_snapshot(snap);
	u64 nmi0 = nmi_total();
	bool sent = send(dest, icr);
	irq_window(3000);
	u32 vec = (icr & 0xff) >= VEC_FIRST && (icr & 0xff) < VEC_FIRST + VEC_COUNT ? icr & 0xff
		  : VEC_FIRST;
	u32 self = vec_since(snap, 0, vec, &total);
	u64 nmis = nmi_total() - nmi0;
	bool ok = (want_self < 0 ? self <= 1 : self == (u32)want_self) && total == self &&
		  nmis == want_nmi;
	check(chk, ok, "%s (ICR 0x%x, dest 0x%x)%s: %u arrivals of vector 0x%x here, %u "
	      "interrupts in all, %lu NMIs; want %s%d here, none elsewhere, %u NMIs", what, icr,
	      dest, sent ? "" : " [delivery status stayed busy]", self, vec, total, nmis,
	      want_self < 0 ? "at most " : "", want_self < 0 ? 1 : want_self, want_nmi);
}

/* An ICR write by `width` bytes; ICR high is set first. */
static int icr_write_odd(int width, u64 val)
{
	u64 a = apic + LAPIC_ICR_LO;
	if (width == 1)
		return TRY("movb %1, (%0)", :: "r"(a), "q"((u8)val) : "memory");
	return TRY("movq %1, (%0)", :: "r"(a), "r"(val) : "memory");
}

static void class_icr(void)
{
	u32 self = smp_cpus[0].apic_id;
	for (u32 c = 0; c < smp_ncpus; c++)
		if (smp_cpus[c].apic_id == ABSENT_ID) {
			info("APIC ID 0x%x exists here: the absent-destination checks would hit it",
			     ABSENT_ID);
			return;
		}
	icr_case("icr_fixed_self", "fixed to self", self, ICR_FIXED | ICR_ASSERT | 0xe0, 1, 0);
	icr_case("icr_fixed_self_shorthand", "fixed, shorthand self", 0,
		 ICR_SELF | ICR_FIXED | ICR_ASSERT | 0xe0, 1, 0);
	icr_case("icr_fixed_absent", "fixed to an absent APIC ID", ABSENT_ID,
		 ICR_FIXED | ICR_ASSERT | 0xe1, 0, 0);
	icr_case("icr_fixed_logical_absent", "fixed, logical, nobody's LDR", ABSENT_LOGICAL,
		 ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0xe1, 0, 0);
	icr_case("icr_lowpri_absent", "lowest priority to an absent APIC ID", ABSENT_ID,
		 ICR_LOWPRI | ICR_ASSERT | 0xe2, 0, 0);
	icr_case("icr_lowpri_logical_absent", "lowest priority, logical, nobody", ABSENT_LOGICAL,
		 ICR_LOGICAL | ICR_LOWPRI | ICR_ASSERT | 0xe2, 0, 0);
	icr_case("icr_lowpri_self", "lowest priority to self (physical)", self,
		 ICR_LOWPRI | ICR_ASSERT | 0xe2, -1, 0);
	icr_case("icr_nmi_self", "NMI to self", self, ICR_NMI | ICR_ASSERT, 0, 1);
	icr_case("icr_nmi_absent", "NMI to an absent APIC ID", ABSENT_ID, ICR_NMI | ICR_ASSERT, 0, 0);
	icr_case("icr_nmi_logical_absent", "NMI, logical, nobody", ABSENT_LOGICAL,
		 ICR_LOGICAL | ICR_NMI | ICR_ASSERT, 0, 0);
	icr_case("icr_smi_absent", "SMI to an absent APIC ID", ABSENT_ID, ICR_SMI | ICR_ASSERT, 0, 0);
	icr_case("icr_smi_logical_absent", "SMI, logical, nobody", ABSENT_LOGICAL,
		 ICR_LOGICAL | ICR_SMI | ICR_ASSERT, 0, 0);
	if (!check_need_hv("icr_smi_self"))
		icr_case("icr_smi_self", "SMI to self", self, ICR_SMI | ICR_ASSERT, 0, 0);
	icr_case("icr_init_absent", "INIT to an absent APIC ID", ABSENT_ID,
		 ICR_INIT | ICR_LEVEL | ICR_ASSERT, 0, 0);
	icr_case("icr_init_logical_absent", "INIT, logical, nobody", ABSENT_LOGICAL,
		 ICR_LOGICAL | ICR_INIT | ICR_LEVEL | ICR_ASSERT, 0, 0);
	/* Bare, an INIT to the BSP itself really resets it: only the hypervisor
	 * can (and must) refuse it. */
	if (!check_need_hv("icr_init_self"))
		icr_case("icr_init_self", "INIT to self", self, ICR_INIT | ICR_LEVEL | ICR_ASSERT, 0, 0);
	u32 sipi = ICR_STARTUP | ICR_ASSERT | smp_vectors[0];
	icr_case("icr_sipi_absent", "SIPI to an absent APIC ID", ABSENT_ID, sipi, 0, 0);
	icr_case("icr_sipi_logical_absent", "SIPI, logical, nobody", ABSENT_LOGICAL,
		 ICR_LOGICAL | sipi, 0, 0);
	icr_case("icr_sipi_self", "SIPI to self (running: ignored)", self, sipi, 0, 0);
	icr_case("icr_extint_absent", "ExtINT to an absent APIC ID", ABSENT_ID,
		 ICR_EXTINT | ICR_ASSERT, 0, 0);
	icr_case("icr_extint_logical_absent", "ExtINT, logical, nobody", ABSENT_LOGICAL,
		 ICR_LOGICAL | ICR_EXTINT | ICR_ASSERT, 0, 0);
	if (random_mode)
		for (int i = 0; i < 8; i++) {
			static const u32 modes[] = { ICR_FIXED, ICR_LOWPRI, ICR_SMI, ICR_NMI, ICR_INIT,
						     ICR_STARTUP, ICR_EXTINT };
			u32 icr = modes[rnd_below(ARRAY_SIZE(modes))] | ICR_ASSERT |
				  (u32)(VEC_FIRST + 1 + rnd_below(VEC_COUNT - 1));
			bool logical = rnd() & 1;
			if (logical)
				icr |= ICR_LOGICAL;
			icr_case("icr_random_absent", "random mode to nobody",
				 logical ? ABSENT_LOGICAL : ABSENT_ID, icr, 0, 0);
		}

	/* Stale bytes: ICR low holds an NMI (sent to nobody), then ICR high
	 * names this CPU. A partial write must not become that NMI. */
	if (!hv.present) {
		check_need_hv("icr_byte_write");
		check_need_hv("icr_qword_write");
	} else {
		for (int width = 1; width <= 8; width += 7) {
			const char *chk = width == 1 ? "icr_byte_write" : "icr_qword_write";
			send(ABSENT_ID, ICR_NMI | ICR_ASSERT);
			udelay(1000);
			lapic_write(LAPIC_ICR_HI, self << 24);
			u32 vec = width == 1 ? 0xe4 : 0xe5;
			u32 snap[GUEST_MAX_CPUS][VEC_COUNT], total;
			vec_snapshot(snap);
			u64 nmi0 = nmi_total();
			int v = icr_write_odd(width, width == 1 ? vec : 0x0000040000000000ull | vec);
			irq_window(3000);
			u32 here = vec_since(snap, 0, vec, &total);
			u64 nmis = nmi_total() - nmi0;
			check(chk, v < 0 && nmis == 0 && here <= 1 && total == here,
			      "%d-byte ICR write of vector 0x%x: vector %d, %lu NMIs (stale bytes), "
			      "%u arrivals of 0x%x, %u interrupts in all; want no NMI, at most "
			      "the written fixed IPI", width, vec, v, nmis, here, vec, total);
		}
	}
	/* RMW: orl $0 writes back exactly what it read: the same IPI again, or
	 * nothing. */
	{
		send(self, ICR_FIXED | ICR_ASSERT | 0xe6);
		irq_window(3000);
		u32 snap[GUEST_MAX_CPUS][VEC_COUNT], total;
		vec_snapshot(snap);
		u64 nmi0 = nmi_total();
		u64 a = apic + LAPIC_ICR_LO;
		int v = TRY("orl $0, (%0)", :: "r"(a) : "memory", "cc");
		irq_window(3000);
		u32 here = vec_since(snap, 0, 0xe6, &total);
		u64 nmis = nmi_total() - nmi0;
		check("icr_rmw_orl", v < 0 && nmis == 0 && here <= 1 && total == here,
		      "orl $0 on ICR low (fixed 0xe6 to self): vector %d, %u more arrivals, %u "
		      "interrupts in all, %lu NMIs", v, here, total, nmis);
	}
	lapic_write(LAPIC_ICR_HI, 0);
	if (smp_ncpus > 1)
		check_aps("icr_aps_alive");
}

/* ==== 8. COM1 ========================================================================= */
static bool lsr_wait(u8 bit, u64 ms)
{
	u64 dl = tsc_deadline_ms(ms);
	while (!(inb(com1 + 5) & bit))
		if (tsc_expired(dl))
			return false;
	return true;
}

static void class_com1(void)
{
	lsr_wait(0x40, 1000);                 /* our own last line is out */
	u8 lcr = inb(com1 + 3), ier = inb(com1 + 1), mcr = inb(com1 + 4);
	outb(com1 + 3, lcr | 0x80);
	u8 dll = inb(com1), dlm = inb(com1 + 1);
	u8 gdll = random_mode ? (u8)rnd() : 0x55, gdlm = random_mode ? (u8)rnd() : 0xaa;
	outb(com1, gdll);
	outb(com1 + 1, gdlm);
	u8 rdll = inb(com1), rdlm = inb(com1 + 1);
	outb(com1, dll);
	outb(com1 + 1, dlm);
	outb(com1 + 3, lcr & 0x7f);
	outb(com1 + 1, 0xff);                 /* IER garbage: bits 7:4 read 0 */
	u8 rier = inb(com1 + 1);
	outb(com1 + 1, 0);
	outb(com1 + 2, random_mode ? (u8)rnd() : 0xff);   /* FCR garbage */
	outb(com1 + 4, 0xff);                 /* MCR garbage (loopback on) */
	u8 rmcr = inb(com1 + 4);
	/* Loopback: what goes out comes back on RBR, and not on the wire. */
	outb(com1 + 4, 0x10 | 0x03);
	outb(com1 + 2, 0x07);                 /* FIFOs on and cleared */
	udelay(2000);
	while (inb(com1 + 5) & 1)
		inb(com1);
	static const u8 probe[] = { 0x5a, 0xa5, 'Q', 0x00, 0xff };
	u32 lb_bad = 0;
	u8 lb_want = 0, lb_got = 0;
	for (u32 i = 0; i < ARRAY_SIZE(probe); i++) {
		u8 x = random_mode && i == 3 ? (u8)rnd() : probe[i];
		lsr_wait(0x20, 100);
		outb(com1, x);
		bool dr = lsr_wait(0x01, 100);
		u8 got = dr ? inb(com1) : 0;
		if ((!dr || got != x) && !lb_bad++) {
			lb_want = x;
			lb_got = got;
		}
	}
	/* restore */
	outb(com1 + 4, mcr);
	outb(com1 + 3, lcr | 0x80);
	outb(com1, dll);
	outb(com1 + 1, dlm);
	outb(com1 + 3, lcr);
	outb(com1 + 1, ier);
	outb(com1 + 2, 0xc7);
	info("COM1 restored after DLAB, IER/FCR/MCR garbage and loopback (LCR 0x%x MCR 0x%x)",
	     lcr, mcr);
	check("com1_divisor_readback", rdll == gdll && rdlm == gdlm,
	      "divisor latch wrote 0x%02x%02x, reads back 0x%02x%02x", gdlm, gdll, rdlm, rdll);
	check("com1_ier_readback", rier == 0x0f, "IER := 0xff reads back 0x%02x, want 0x0f", rier);
	check("com1_mcr_readback", rmcr == 0x1f, "MCR := 0xff reads back 0x%02x, want 0x1f", rmcr);
	check("com1_loopback", !lb_bad, "%u of %u loopback bytes did not come back (first: sent "
	      "0x%02x, got 0x%02x)", lb_bad, (u32)ARRAY_SIZE(probe), lb_want, lb_got);

	u64 n = cmdline_u64("hostile_flood", 100 * 1024);
	info("flooding COM1 with %lu bytes", n);
	u64 sent = 0, t0 = rdtsc();
	bool stuck = false;
	char line[100];
	memset(line, '~', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	memcpy(line, "flood ", 6);
	while (sent < n) {
		u8 ch = line[sent % sizeof(line)];
		if (sent + 1 == n)
			ch = '\n';
		if (!lsr_wait(0x20, 1000)) {
			stuck = true;
			break;
		}
		outb(com1, ch);
		sent++;
	}
	lsr_wait(0x40, 1000);
	u64 ms = (rdtsc() - t0) / (tsc_khz() ? tsc_khz() : 1);
	info("flood of %lu bytes done in %lu ms", sent, ms);
	check("com1_flood", !stuck, "THR stayed full for 1 s after %lu of %lu bytes", sent, n);
}

/* ==== 9. memory: the footprint, addresses beyond RAM ================================ */
extern u64 boot_pml4[];
static u64 extra_pd[4][512] __attribute__((aligned(4096)));
static u32 extra_used;

/* The 1:1 map covers addr (2 MiB pages, uncached, below 512 GiB). */
static bool ensure_mapped(u64 addr)
{
	if (addr >> 39)
		return false;
	u64 *pdpt = (u64 *)(boot_pml4[0] & 0xffffffffff000ull);
	u64 gi = addr >> 30;
	if (!(pdpt[gi] & 1)) {
		if (extra_used == ARRAY_SIZE(extra_pd))
			return false;
		u64 *pd = extra_pd[extra_used++];
		for (u64 i = 0; i < 512; i++)
			pd[i] = (gi << 30) + (i << 21) + 0x9b;   /* P, RW, PWT, PCD, PS */
		pdpt[gi] = (u64)pd | 3;
		asm volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
	}
	return true;
}

static u64 ram_top(void)
{
	u64 top = 0;
	for (u32 i = 0; i < boot_info.mmap_count; i++) {
		const struct mmap_entry *e = mmap_get(i);
		if (e->type == 1 && e->base + e->len > top)
			top = e->base + e->len;
	}
	return top;
}

static void nothing_there(const char *rchk, const char *wchk, u64 addr)
{
	if (!ensure_mapped(addr)) {
		check_fail(rchk, "cannot map 0x%lx", addr);
		check_fail(wchk, "cannot map 0x%lx", addr);
		return;
	}
	u32 d = 0;
	u64 q = 0;
	int v1 = read32(addr, &d);
	int v2 = safe_read64(addr + 8, &q);
	check(rchk, v1 < 0 && v2 < 0 && d == 0xffffffffu && q == ~0ull,
	      "reads at 0x%lx: vector %d value 0x%x, vector %d value 0x%lx; want all ones",
	      addr, v1, d, v2, q);
	int w = write32(addr, 0x12345678);
	int w2 = safe_write64(addr + 8, 0x0123456789abcdefull);
	v1 = read32(addr, &d);
	v2 = safe_read64(addr + 8, &q);
	check(wchk, w < 0 && w2 < 0 && v1 < 0 && v2 < 0 && d == 0xffffffffu && q == ~0ull,
	      "writes at 0x%lx: vectors %d %d; read back 0x%x / 0x%lx (vectors %d %d); want no "
	      "fault and all ones", addr, w, w2, d, q, v1, v2);
}

static void class_memory(void)
{
	u64 start, end;
	const char *fwhy;
	if (!hv.present) {
		check_need_hv("footprint_read_gp");
		check_need_hv("footprint_write_gp");
	} else {
		if (!hv_footprint(&start, &end, &fwhy)) {
			check_fail("footprint_read_gp", "%s", fwhy);
			check_fail("footprint_write_gp", "%s", fwhy);
		} else if (!ensure_mapped(start) || !ensure_mapped(end - 1)) {
			check_fail("footprint_read_gp", "cannot map [0x%lx, 0x%lx)", start, end);
			check_fail("footprint_write_gp", "cannot map [0x%lx, 0x%lx)", start, end);
		} else {
			u64 at[4] = { start, end - 8, start + ((end - start) / 2 & ~7ull),
				      start + (rnd_below(end - start) & ~7ull) };
			u32 bad = 0;
			char first[160] = "";
			for (u32 i = 0; i < 4; i++) {
				u64 x;
				int v = safe_read64(at[i], &x);
				if (!want_gp(v, "read") && !bad++)
					snprintf(first, sizeof(first), "0x%lx: %s", at[i], why);
			}
			check("footprint_read_gp", !bad, "%u reads of [0x%lx, 0x%lx) without #GP(0): "
			      "%s", bad, start, end, first);
			bad = 0;
			for (u32 i = 0; i < 4; i++) {
				int v = safe_write64(at[i], 0x5a5ac0dedeadbeefull);
				if (!want_gp(v, "write") && !bad++)
					snprintf(first, sizeof(first), "0x%lx: %s", at[i], why);
			}
			check("footprint_write_gp", !bad, "%u writes to [0x%lx, 0x%lx) without "
			      "#GP(0): %s", bad, start, end, first);
		}
	}
	u64 top = ram_top();
	u64 far = ((top + (1ull << 30)) + 0xfff) & ~0xfffull;
	if (far >= 0xc0000000ull && far < (1ull << 32))
		far += 1ull << 32;          /* not into the MMIO below 4 GiB */
	info("RAM ends at 0x%lx; trying 0x100000000 and 0x%lx", top, far);
	nothing_there("above_4g_reads_ones", "above_4g_writes_dropped", 1ull << 32);
	nothing_there("ram_top_1g_reads_ones", "ram_top_1g_writes_dropped", far);
	if (random_mode) {
		u64 r = (1ull << 32) + (rnd_below(4ull << 30) & ~0xfffull);
		nothing_there("random_high_reads_ones", "random_high_writes_dropped", r);
	}
}

/* ==== 10. INT3, ICEBP, breakpoints, single steps ===================================== */
static volatile u32 db_count, bp_count;
static volatile u64 db_rip, db_dr6, bp_rip;

static bool db_hook(struct trap_frame *f)
{
	u64 dr6 = read_dr6();
	if (!db_count++) {
		db_rip = f->rip;
		db_dr6 = dr6;
	}
	write_dr6(0xffff0ff0);
	f->rflags |= RFLAGS_RF;              /* past an instruction breakpoint */
	f->rflags &= ~RFLAGS_TF;             /* one single step each */
	return true;
}

static bool bp_hook(struct trap_frame *f)
{
	if (!bp_count++)
		bp_rip = f->rip;
	return true;
}

static void db_reset(void)
{
	db_count = 0;
	db_rip = db_dr6 = 0;
	write_dr6(0xffff0ff0);
}

__attribute__((noinline)) void hostile_bp_target(void);
__attribute__((noinline)) void hostile_bp_target(void) { asm volatile("nop" ::: "memory"); }

static int ping(void)
{
	struct vmcall_regs r = { .rax = HVABI_VMCALL_PING };
	return vmcall_regs(&r);
}

/* TF set across one instruction; returns the address just after it. */
static u64 tf_cpuid(void)
{
	u64 after;
	u32 a = 0, c = 0;
	asm volatile("leaq 1f(%%rip), %0\n\t"
		     "pushfq\n\torq $0x100, (%%rsp)\n\tpopfq\n\t"
		     "cpuid\n"
		     "1:\tpushfq\n\tandq $~0x100, (%%rsp)\n\tpopfq"
		     : "=&r"(after), "+a"(a), "+c"(c) :: "rbx", "rdx", "memory", "cc");
	return after;
}

static u64 tf_vmcall(void)
{
	u64 after;
	u64 a = HVABI_VMCALL_PING, c = 0;
	asm volatile("leaq 1f(%%rip), %0\n\t"
		     "pushfq\n\torq $0x100, (%%rsp)\n\tpopfq\n\t"
		     "vmcall\n"
		     "1:\tpushfq\n\tandq $~0x100, (%%rsp)\n\tpopfq"
		     : "=&r"(after), "+a"(a), "+c"(c) :: "rbx", "memory", "cc");
	return after;
}

static u64 tf_lapic_read(void)
{
	u64 after, addr = apic + 0x30;
	u32 v;
	asm volatile("leaq 1f(%%rip), %0\n\t"
		     "pushfq\n\torq $0x100, (%%rsp)\n\tpopfq\n\t"
		     "movl (%2), %1\n"
		     "1:\tpushfq\n\tandq $~0x100, (%%rsp)\n\tpopfq"
		     : "=&r"(after), "=&r"(v) : "r"(addr) : "memory", "cc");
	return after;
}

static void tf_case(const char *chk, const char *what, u64 (*fn)(void))
{
	db_reset();
	u64 after = fn();
	udelay(1000);
	check(chk, db_count == 1 && db_rip == after && (db_dr6 & DR6_BS),
	      "TF across %s: %u #DB (want 1), first at rip 0x%lx (want 0x%lx), DR6 0x%lx (want BS)",
	      what, db_count, db_rip, after, db_dr6);
}

static void class_debug(void)
{
	trap_set_hook(1, db_hook);
	trap_set_hook(3, bp_hook);

	u64 after;
	bp_count = 0;
	asm volatile("leaq 1f(%%rip), %0\n\tint3\n1:" : "=r"(after) :: "memory");
	check("int3_reaches_guest", bp_count == 1 && bp_rip == after,
	      "INT3: %u #BP (want 1), at rip 0x%lx (want 0x%lx)", bp_count, bp_rip, after);

	db_reset();
	asm volatile("leaq 1f(%%rip), %0\n\t.byte 0xf1\n1:" : "=r"(after) :: "memory");
	check("icebp_reaches_guest", db_count == 1 && db_rip == after,
	      "ICEBP (0xf1): %u #DB (want 1), at rip 0x%lx (want 0x%lx)", db_count, db_rip, after);

	/* DR0: execute breakpoint on hostile_bp_target. */
	db_reset();
	write_dr0((u64)hostile_bp_target);
	write_dr7(0x1);                      /* L0, execute, 1 byte */
	u64 dr7 = read_dr7();
	hostile_bp_target();
	u32 first = db_count;
	u64 first_rip = db_rip, first_dr6 = db_dr6;
	ping();
	u32 a, b, c, d;
	cpuid(0, 0, &a, &b, &c, &d);
	u64 dr7_after = read_dr7();
	db_reset();
	hostile_bp_target();
	u32 second = db_count;
	u64 second_dr6 = db_dr6;
	write_dr7(0x400);
	check("dr0_breakpoint", first == 1 && first_rip == (u64)hostile_bp_target &&
	      (first_dr6 & 1), "execute breakpoint: %u #DB (want 1) at 0x%lx (want 0x%lx), DR6 "
	      "0x%lx (want B0)", first, first_rip, (u64)hostile_bp_target, first_dr6);
	check("dr0_breakpoint_after_exits", dr7_after == dr7 && second == 1 && (second_dr6 & 1),
	      "after a VMCALL and a CPUID: DR7 0x%lx -> 0x%lx, %u #DB (want 1), DR6 0x%lx",
	      dr7, dr7_after, second, second_dr6);

	if (!check_need_hv("tf_vmcall"))
		tf_case("tf_vmcall", "VMCALL", tf_vmcall);
	tf_case("tf_cpuid", "CPUID", tf_cpuid);
	tf_case("tf_lapic_read", "a LAPIC read (mov from 0xfee00030)", tf_lapic_read);

	trap_set_hook(1, NULL);
	trap_set_hook(3, NULL);
}

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
