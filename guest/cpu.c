/* Per-CPU state (gs:0 -> struct cpu), GDT with a TSS whose IST stacks carry
 * #DF, NMI and #MC, the IDT, and the trap handler with its fixup table. */
#include "guest.h"

_Static_assert(offsetof(struct cpu, fault.vector) == 16, "entry.S reads fault.vector at gs:0+16");

struct idt_gate {
	u16 off0, sel;
	u8 ist, attr;
	u16 off1;
	u32 off2, zero;
} __attribute__((packed));

struct extable_entry { u64 insn, fixup; };

extern const struct extable_entry __extable_start[], __extable_end[];
extern const u8 trap_stubs[];
__attribute__((noreturn)) void guest_finish(bool faulted);

static struct cpu cpus[GUEST_MAX_CPUS];
static struct idt_gate idt[256] __attribute__((aligned(16)));
static trap_hook_fn hooks[256];
static const u8 ist_of_vector[256] = { [2] = 2, [8] = 1, [18] = 3 };

static const char *const names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO",
	"#TS", "#NP", "#SS", "#GP", "#PF", "RSV", "#MF", "#AC", "#MC", "#XM",
	"#VE", "#CP",
};

const char *vector_name(unsigned v)
{
	if (v < 32)
		return names[v] ? names[v] : "reserved";
	return "interrupt";
}

struct desc_ptr {
	u16 limit;
	u64 base;
} __attribute__((packed));

void trap_set_hook(unsigned vector, trap_hook_fn fn)
{
	if (vector < 256)
		hooks[vector] = fn;
}

static void idt_build(void)
{
	for (unsigned v = 0; v < 256; v++) {
		u64 a = (u64)(trap_stubs + 16 * v);
		idt[v] = (struct idt_gate){
			.off0 = (u16)a, .sel = 0x08, .ist = ist_of_vector[v], .attr = 0x8e,
			.off1 = (u16)(a >> 16), .off2 = (u32)(a >> 32),
		};
	}
}

void cpu_init(unsigned index, u8 *ist_top[3])
{
	struct cpu *c = &cpus[index];
	c->self = c;
	c->index = index;
	c->fault.vector = -1;
	wrmsr(0xc0000101, (u64)c);         /* IA32_GS_BASE */

	/* TSS: IST1..3 at offsets 36, 44, 52; no I/O bitmap. */
	memset(c->tss, 0, sizeof(c->tss));
	for (int i = 0; i < 3; i++)
		memcpy(c->tss + 36 + 8 * i, &ist_top[i], 8);
	u16 iomap = sizeof(c->tss);
	memcpy(c->tss + 102, &iomap, 2);

	u64 base = (u64)c->tss, limit = sizeof(c->tss) - 1;
	c->gdt[0] = 0;
	c->gdt[1] = 0x00af9a000000ffffull;  /* 0x08 code64 */
	c->gdt[2] = 0x00cf92000000ffffull;  /* 0x10 data */
	c->gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
		    ((limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
	c->gdt[4] = base >> 32;                 /* 0x18 TSS (16 bytes) */
	c->gdt[5] = c->gdt[6] = 0;

	struct desc_ptr g = { sizeof(c->gdt) - 1, (u64)c->gdt };
	asm volatile("lgdt %0\n\t"
		     "pushq $0x08\n\t"
		     "leaq 1f(%%rip), %%rax\n\t"
		     "pushq %%rax\n\t"
		     "lretq\n"
		     "1:\tmov $0x10, %%eax\n\t"
		     "mov %%eax, %%ds\n\tmov %%eax, %%es\n\tmov %%eax, %%ss\n\t"
		     "mov $0x18, %%eax\n\tltr %%ax"
		     :: "m"(g) : "rax", "memory");
	if (index == 0)
		idt_build();
	struct desc_ptr i = { sizeof(idt) - 1, (u64)idt };
	asm volatile("lidt %0" :: "m"(i) : "memory");
}

static const struct extable_entry *extable_find(u64 rip)
{
	for (const struct extable_entry *e = __extable_start; e < __extable_end; e++)
		if (e->insn == rip)
			return e;
	return NULL;
}

static volatile int in_fatal;

void trap_handler(struct trap_frame *f)
{
	struct cpu *c = this_cpu();
	if (f->vector < 256 && hooks[f->vector] && hooks[f->vector](f))
		return;
	const struct extable_entry *e = f->vector < 32 ? extable_find(f->rip) : NULL;
	if (e && f->vector != 2 && f->vector != 8 && f->vector != 18) {
		c->fault.error = f->error;
		c->fault.rip = f->rip;
		c->fault.cr2 = f->vector == 14 ? read_cr2() : 0;
		c->fault.count++;
		c->fault.vector = (int)f->vector;
		f->rip = e->fixup;
		return;
	}
	if (in_fatal++) {
		printf("GUEST FAULT vector=0x%02lx (%s) rip=0x%lx (nested, in the fault path)\n",
		       f->vector, vector_name(f->vector), f->rip);
		halt_forever();
	}
	printf("GUEST FAULT vector=0x%02lx (%s) error=0x%lx rip=0x%lx cpu=%u\n",
	       f->vector, vector_name(f->vector), f->error, f->rip, c->index);
	printf("GUEST FAULT regs: rsp=0x%lx rflags=0x%lx cs=0x%lx cr2=0x%lx\n",
	       f->rsp, f->rflags, f->cs, read_cr2());
	printf("GUEST FAULT regs: rax=0x%lx rbx=0x%lx rcx=0x%lx rdx=0x%lx rsi=0x%lx rdi=0x%lx rbp=0x%lx\n",
	       f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi, f->rbp);
	printf("GUEST FAULT regs: r8=0x%lx r9=0x%lx r10=0x%lx r11=0x%lx r12=0x%lx r13=0x%lx r14=0x%lx r15=0x%lx\n",
	       f->r8, f->r9, f->r10, f->r11, f->r12, f->r13, f->r14, f->r15);
	guest_finish(true);
}

/* ---- operations that may fault --------------------------------------------- */
int safe_rdmsr(u32 msr, u64 *val)
{
	u32 lo = 0, hi = 0;
	fault_arm();
	asm volatile("1: rdmsr\n2:\n\t" EXTABLE(1b, 2b)
		     : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
	*val = (u64)hi << 32 | lo;
	return fault_vector();
}

int safe_wrmsr(u32 msr, u64 val)
{
	fault_arm();
	asm volatile("1: wrmsr\n2:\n\t" EXTABLE(1b, 2b)
		     :: "c"(msr), "a"((u32)val), "d"((u32)(val >> 32)) : "memory");
	return fault_vector();
}

int safe_read64(u64 addr, u64 *val)
{
	u64 v = 0;
	fault_arm();
	asm volatile("1: movq (%1), %0\n2:\n\t" EXTABLE(1b, 2b)
		     : "+r"(v) : "r"(addr) : "memory");
	*val = v;
	return fault_vector();
}

int safe_write64(u64 addr, u64 val)
{
	fault_arm();
	asm volatile("1: movq %1, (%0)\n2:\n\t" EXTABLE(1b, 2b)
		     :: "r"(addr), "r"(val) : "memory");
	return fault_vector();
}

int safe_write_cr4(u64 val)
{
	fault_arm();
	asm volatile("1: mov %0, %%cr4\n2:\n\t" EXTABLE(1b, 2b)
		     :: "r"(val) : "memory");
	return fault_vector();
}

int safe_ud2(void)
{
	fault_arm();
	asm volatile("1: ud2\n2:\n\t" EXTABLE(1b, 2b) ::: "memory");
	return fault_vector();
}

int safe_div0(void)
{
	u32 a = 1, d = 0, zero = 0;
	fault_arm();
	asm volatile("1: divl %2\n2:\n\t" EXTABLE(1b, 2b)
		     : "+a"(a), "+d"(d) : "r"(zero) : "memory");
	return fault_vector();
}
