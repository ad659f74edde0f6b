#include "hostile.h"

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

void class_debug(void)
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

	/* DR0: execute breakpoint on hostile_bp_target. hostile_dr0=0 leaves
	 * it out, for Bochs 3.0 with more than one CPU: there the breakpoint's
	 * #DB triple-faults even bare, without a hypervisor (Bochs 2.7 and
	 * Bochs 3.0 with one CPU deliver it). */
	if (!cmdline_u64("hostile_dr0", 1)) {
		info("hostile_dr0=0: no DR0 breakpoint attempts");
		goto single_steps;
	}
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

single_steps:
	if (!check_need_hv("tf_vmcall"))
		tf_case("tf_vmcall", "VMCALL", tf_vmcall);
	tf_case("tf_cpuid", "CPUID", tf_cpuid);
	tf_case("tf_lapic_read", "a LAPIC read (mov from 0xfee00030)", tf_lapic_read);

	trap_set_hook(1, NULL);
	trap_set_hook(3, NULL);
}
