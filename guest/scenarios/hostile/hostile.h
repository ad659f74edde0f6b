/* The hostile scenario (guest/scenarios/hostile/): hostile.c says what it
 * does and runs it; one file per attempt class; common.c holds the PRNG,
 * the small helpers, the interrupt counting and the AP checks they share. */
#ifndef GUEST_SCENARIOS_HOSTILE_H
#define GUEST_SCENARIOS_HOSTILE_H
#include "../../smp.h"

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

extern char why[384];
extern u64 rng;
extern bool random_mode;
extern u16 com1;
extern u8 pic_mask1, pic_mask2;
extern bool aps_ok;
extern u64 apic;

u64 rnd(void);                       /* xorshift64* */
u64 rnd_below(u64 n);
int write_cr0(u64 v);
int write_cr3(u64 v);
int write_cr4(u64 v);
u64 xgetbv0(void);
int xsetbv_raw(u64 rcx, u64 val);
int read32(u64 a, u32 *v);
int write32(u64 a, u32 v);
u8 cmos_read(u8 reg);
void cmos_write(u8 reg, u8 v);
u32 maxphyaddr(void);
bool want_gp(int v, const char *what);
bool vec_hook(struct trap_frame *f);
void irq_window(u64 us);
void vec_snapshot(u32 snap[GUEST_MAX_CPUS][VEC_COUNT]);
u32 vec_since(u32 snap[GUEST_MAX_CPUS][VEC_COUNT], u32 cpu, u32 vec, u32 *total);
u64 nmi_total(void);
void record_ap_starts(void);
bool aps_alive(void);
void check_aps(const char *chk);
bool lsr_wait(u8 bit, u64 ms);

/* The attempt classes, in their fixed order. */
void class_vmcall(void);
void class_vmx(void);
void class_msr(void);
void class_cr(void);
void class_xsetbv(void);
void class_lapic(void);
void class_icr(void);
void class_com1(void);
void class_memory(void);
void class_debug(void);

#endif
