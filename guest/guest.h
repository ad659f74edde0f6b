/* The test guest: a tiny 64-bit kernel that GRUB boots (multiboot2), runs
 * the scenarios named on its command line and reports one line per check.
 * It stands alone like a foreign OS: nothing here comes from hv/. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hvabi.h"

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define GUEST_MAX_CPUS 8
#define IDENTITY_MAP_END (4ull << 30)   /* boot.S maps [0, 4 GiB) 1:1 */

/* ---- lib.c: string and formatting ---------------------------------------- */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool parse_u64(const char *s, size_t n, u64 *out);

/* ---- io.h-ish ---------------------------------------------------------- */
static inline void outb(u16 port, u8 v) { asm volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { asm volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void cpu_relax(void) { asm volatile("pause" ::: "memory"); }
static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline u64 read_cr4(void) { u64 v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline u64 read_cr2(void) { u64 v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline void wrmsr(u32 msr, u64 v)
{
	asm volatile("wrmsr" :: "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}
static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;
	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
	return (u64)hi << 32 | lo;
}
static inline u64 rdtsc(void)
{
	u32 lo, hi;
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return (u64)hi << 32 | lo;
}
__attribute__((noreturn)) void halt_forever(void);

/* ---- tsc.c: time from the TSC, calibrated against PIT channel 2 --------- */
/* The first call (on the BSP, before any AP runs: it programs the PIT)
 * calibrates; later calls on any CPU return the cached rate. */
u64 tsc_khz(void);
void udelay(u64 us);
u64 tsc_deadline_ms(u64 ms);       /* rdtsc() value ms milliseconds from now */
static inline bool tsc_expired(u64 deadline) { return rdtsc() >= deadline; }

/* ---- serial.c: COM1, polled ---------------------------------------------- */
void uart_init(u16 port);
void console_write(const char *s, size_t n);   /* serialised, '\n' -> CRLF */

/* ---- cpu.c: per-CPU state, GDT/TSS/IDT, exceptions and fixups ------------- */
struct trap_frame {      /* built by entry.S, lowest address first */
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, error;
	u64 rip, cs, rflags, rsp, ss;
};

/* The last exception caught by a fixup (see the safe_* helpers). */
struct fault_rec {
	int vector;          /* -1: none since fault_arm() */
	u64 error, rip, cr2;
	u64 count;           /* faults caught on this CPU, ever */
};

struct cpu {
	struct cpu *self;    /* gs:0 */
	u32 index;
	volatile struct fault_rec fault;
	bool x2apic;         /* this CPU's LAPIC is in x2APIC mode (lapic.c) */
	u64 gdt[7];          /* null, code64, data, 2x TSS, spare */
	u8 tss[104] __attribute__((aligned(16)));
};

static inline struct cpu *this_cpu(void)
{
	struct cpu *c;
	asm volatile("mov %%gs:0, %0" : "=r"(c));
	return c;
}

void cpu_init(unsigned index, u8 *ist_stacks_top[3]);
/* A hook may claim a trap (return true: handled, resume at frame->rip).
 * For scenarios that expect NMIs, IPIs and the like. */
typedef bool (*trap_hook_fn)(struct trap_frame *f);
void trap_set_hook(unsigned vector, trap_hook_fn fn);
const char *vector_name(unsigned vector);

/* Exception fixups: an instruction listed in .extable that faults resumes
 * at its fixup address and the fault is recorded in this_cpu()->fault. */
#define EXTABLE(insn, fixup) \
	".pushsection .extable,\"a\"\n\t.balign 8\n\t.quad " #insn ", " #fixup "\n\t.popsection\n\t"

static inline void fault_arm(void) { this_cpu()->fault.vector = -1; }
static inline int fault_vector(void) { asm volatile("" ::: "memory"); return this_cpu()->fault.vector; }
static inline u64 fault_error(void) { return this_cpu()->fault.error; }

/* Each returns -1 if the operation completed, else the exception vector
 * (error code in fault_error()). */
int safe_rdmsr(u32 msr, u64 *val);
int safe_wrmsr(u32 msr, u64 val);
int safe_read64(u64 addr, u64 *val);
int safe_write64(u64 addr, u64 val);
int safe_write_cr4(u64 val);
int safe_ud2(void);
int safe_div0(void);

/* VMCALL with every GPR loaded from / stored back to this block (entry.S).
 * Returns -1 or the exception vector. */
struct vmcall_regs {
	u64 rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
};
int vmcall_regs(struct vmcall_regs *r);

/* ---- mb2.c: the multiboot2 information GRUB passed ---------------------- */
struct mmap_entry { u64 base, len; u32 type; };
struct boot_info {
	bool valid;
	const char *cmdline;
	const struct mmap_entry *mmap; /* points into GRUB's info */
	u32 mmap_count, mmap_entry_size;
	bool have_meminfo;
	u32 mem_lower_kb, mem_upper_kb;
	const void *rsdp;              /* ACPI RSDP copy, or NULL */
	u64 mbi_start, mbi_end;        /* GRUB's information block: keep out */
};
extern struct boot_info boot_info;
void mb2_parse(u32 magic, u64 info);
const struct mmap_entry *mmap_get(u32 i);
const char *mmap_type_name(u32 type);

/* ---- acpi.c: tables through the RSDP GRUB passed ------------------------- */
struct sdt_header {
	char sig[4];
	u32 length;
	u8 revision, checksum;
	char oem[6], oem_table[8];
	u32 oem_rev, creator, creator_rev;
} __attribute__((packed));
/* The table with this signature from the RSDT, or NULL. */
const struct sdt_header *acpi_find(const char *sig);
bool acpi_mapped(u64 addr, u64 len);

/* ---- power.c ------------------------------------------------------------- */
__attribute__((noreturn)) void power_off(u16 exit_port);

/* ---- hv.c: the hypervisor as the guest sees it ------------------------- */
struct hv_info {
	bool present;        /* CPUID.1:ECX[31] and our signature at 0x40000000 */
	u32 cpuid1_ecx;
	u32 max_leaf;
	char signature[13];  /* printable copy of EBX:ECX:EDX */
	u32 abi_version;
	char absent_why[160];/* "no hypervisor present (...)" */
};
extern struct hv_info hv;
void hv_detect(void);
/* VMCALL FOOTPRINT; false (and *why set) if unavailable. */
bool hv_footprint(u64 *start, u64 *end, const char **why);
/* VMCALL DIAG_NMI_STATS on this CPU; -1 or the exception vector. */
struct hv_nmi_stats { u64 injected, merged, quiesce_answered; u32 status; };
int hv_nmi_stats(struct hv_nmi_stats *st);
/* VMCALL DIAG_QUIESCE(x) on this CPU, judged (EAX 0, RBX want_rbx,
 * ECX x + 1) and tallied; the first bad answer is kept for the report. */
struct hv_quiesce_tally {
	u32 calls, bad, faults;
	int vector;                  /* of the first exception */
	u32 x, eax, ecx;             /* the first bad answer */
	u64 rbx;
};
void hv_quiesce(u32 x, u64 want_rbx, struct hv_quiesce_tally *q);
/* "" if every call was good, else what went wrong first. */
void hv_quiesce_why(const struct hv_quiesce_tally *q, u64 want_rbx, char *why, size_t n);

/* ---- checks and scenarios (main.c) --------------------------------------- */
/* One line per check: "CHECK <scenario>.<check>: PASS|FAIL <why>". */
void check_pass(const char *check);
void check_fail(const char *check, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* PASS if ok, else FAIL with the formatted reason. */
void check(const char *check, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* CHECK lines so far (for a scenario that ends the boot itself: hostile). */
void guest_counts(unsigned *passed, unsigned *failed);
/* FAIL "no hypervisor present (...)"; returns true when it did, so a
 * hypervisor-dependent check reads: if (check_need_hv("x")) return; */
bool check_need_hv(const char *check);
/* "INFO <scenario>: ..." -- context, not a check. */
void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Value of a key=value option on the command line (NULL if absent). */
const char *cmdline_get(const char *key, size_t *len);
/* A number option (decimal or 0x-hex), or dflt if absent or malformed. */
u64 cmdline_u64(const char *key, u64 dflt);

struct scenario {
	const char *name;
	const char *desc;
	void (*run)(void);
	bool explicit_only;  /* not part of scenarios=all */
};
/* Register a scenario; `order` (two digits) fixes its place in
 * scenarios=all. One file per scenario in guest/scenarios/. */
#define SCENARIO_DEFINE(order, sname, fn, descr, expl)                        \
	static const struct scenario scenario_##sname                         \
	__attribute__((used, aligned(8),                                      \
		       section(".scenarios." #order "." #sname))) = {         \
		#sname, descr, fn, expl }
#define SCENARIO(order, sname, fn, descr) SCENARIO_DEFINE(order, sname, fn, descr, false)
/* Runs only when named on the command line (destructive or deliberately
 * failing scenarios). */
#define SCENARIO_EXPLICIT(order, sname, fn, descr) SCENARIO_DEFINE(order, sname, fn, descr, true)

#endif
