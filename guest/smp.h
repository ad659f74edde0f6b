/* SMP for the test guest: the local APIC in xAPIC or x2APIC mode (lapic.c),
 * CPUs from the ACPI MADT, AP start-up through a real-mode trampoline
 * (ap_boot.S), per-CPU mailboxes and barriers (smp.c). The layout is in
 * guest/README.md ("SMP"). CPU index 0 is the BSP; indexes follow the
 * MADT; only the BSP prints. */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include "guest.h"

/* ---- lapic.c ---------------------------------------------------------------- */
/* Registers by xAPIC MMIO offset; x2APIC MSR = 0x800 + offset / 16. */
#define LAPIC_ID         0x020
#define LAPIC_TPR        0x080
#define LAPIC_EOI        0x0b0
#define LAPIC_SVR        0x0f0
#define LAPIC_ESR        0x280
#define LAPIC_ICR_LO     0x300
#define LAPIC_ICR_HI     0x310     /* xAPIC only: x2APIC's ICR is one 64-bit MSR */
#define LAPIC_LVT_LINT0  0x350
#define LAPIC_LVT_LINT1  0x360
#define LAPIC_LVT_ERROR  0x370

#define ICR_FIXED        0x000u
#define ICR_NMI          0x400u
#define ICR_INIT         0x500u
#define ICR_STARTUP      0x600u
#define ICR_BUSY         (1u << 12)  /* xAPIC delivery status */
#define ICR_ASSERT       (1u << 14)
#define ICR_LEVEL        (1u << 15)
#define ICR_ALL          (2u << 18)  /* shorthand: all including self */
#define ICR_OTHERS       (3u << 18)  /* shorthand: all excluding self */

#define LVT_MASKED       (1u << 16)
#define LVT_DM_NMI       0x400u
#define LVT_DM_EXTINT    0x700u
#define LVT_DM_MASK      0x700u

#define SMP_WAKE_VECTOR  0xf0        /* fixed IPI that ends an AP's hlt */
#define SPURIOUS_VECTOR  0xff

bool lapic_x2apic_supported(void);   /* CPUID.1:ECX[21] */
/* This CPU's LAPIC into the mode, then set up as Linux does: TPR 0, LINT0
 * ExtINT on the BSP / masked elsewhere, LINT1 NMI, error LVT masked.
 * False (nothing changed) if x2APIC is asked for and absent, or xAPIC
 * while in x2APIC mode: the only way back is through "disabled", and Bochs
 * (unlike the SDM) never lets a globally disabled LAPIC be re-enabled. */
bool lapic_set_mode(bool x2apic, bool bsp);
bool lapic_is_x2apic(void);          /* this CPU's mode as lapic_set_mode left it */
u32 lapic_read(u32 reg);
void lapic_write(u32 reg, u32 val);
u32 lapic_id(void);                  /* from the LAPIC ID register */
void lapic_eoi(void);
/* Send an IPI (dest: APIC ID, ignored with a shorthand in icr). xAPIC:
 * ICR high then low, then wait for the delivery status to clear; false if
 * it stayed busy. */
bool lapic_send(u32 dest, u32 icr);
u64 lapic_mmio_base(void);
/* INFO lapic_stats lines: accesses by mode and register, all CPUs. */
void lapic_print_access_counts(void);

/* ---- smp.c ------------------------------------------------------------------ */
typedef void (*smp_job_fn)(void *arg);

struct smp_cpu {
	u32 apic_id;                 /* from the MADT */
	bool x2apic_entry;           /* listed by an x2APIC (type 9) MADT entry */
	bool up;                     /* reported in and answers its mailbox */
	/* written by the CPU itself each time it starts (ap_entry) */
	volatile u32 round;          /* smp_round when it started */
	volatile u32 vector;         /* the SIPI vector it started at */
	volatile u32 starts;         /* times it entered ap_entry, ever */
	volatile u32 lint0, lint1;   /* LVTs read back after its set-up */
	volatile u64 nmi_received;   /* NMIs its handler counted, ever */
	/* mailbox: any CPU posts, the owner runs the job from its idle loop */
	smp_job_fn volatile job;
	void *volatile job_arg;
	volatile u64 job_seq, done_seq;
};

#define SMP_TRAMPOLINES 3            /* SIPI vectors A, B, C: one per round */

extern struct smp_cpu smp_cpus[GUEST_MAX_CPUS];
extern u32 smp_ncpus;                /* CPUs in the MADT (capped), BSP first */
extern volatile u32 smp_round;       /* what a starting AP reports */
extern u8 smp_vectors[SMP_TRAMPOLINES];

static inline struct smp_cpu *smp_self(void) { return &smp_cpus[this_cpu()->index]; }

/* Once: TSC, MADT, trampolines, NMI/wake hooks, the BSP's LAPIC in its
 * current mode. False with *why on failure (no MADT, no room below 1 MiB,
 * BSP not listed); INFO lines describe what was found. */
bool smp_discover(char *why, size_t n);
/* Every CPU that is up, then the BSP, into x2APIC or xAPIC mode. */
bool smp_set_mode(bool x2apic, char *why, size_t n);
/* The per-AP MP-spec sequence INIT assert, INIT de-assert (level), SIPI,
 * SIPI to one APIC ID, from whichever CPU calls it. */
bool smp_init_sipi_sipi(u32 apic_id, u8 vector);
/* INIT assert, SIPI, SIPI with the shorthand "all excluding self". */
bool smp_init_sipi_sipi_others(u8 vector);
/* Wait until every CPU in mask reports round smp_round at vector, started
 * exactly once more than starts_before[] says, and answers its mailbox;
 * marks them up. False with the first CPU that did not in *why. */
bool smp_wait_started(u32 mask, u8 vector, const u32 *starts_before, char *why, size_t n);
/* Start every AP with smp_init_sipi_sipi() (round 1 style) and wait. */
bool smp_start_aps(u8 vector, char *why, size_t n);
/* nmi_* and quiesce_*: discover and start the APs in the live LAPIC mode
 * unless an smp_* scenario already did; true when every MADT CPU is up. */
bool smp_ensure_up(char *why, size_t n);
u32 smp_mask_aps(void);              /* bits 1..ncpus-1 */

/* Mailboxes. A job runs on its CPU with interrupts off; NMIs still come. */
void smp_post(u32 cpu, smp_job_fn fn, void *arg);
bool smp_wait_job(u32 cpu, u64 deadline);
bool smp_call(u32 cpu, smp_job_fn fn, void *arg);   /* post + wait (timeout) */
/* fn on every CPU in mask at once (the caller's own bit: run inline);
 * returns the mask of CPUs that did not finish in time. */
u32 smp_run(u32 mask, smp_job_fn fn, void *arg);
u64 smp_deadline(void);              /* now + smp_timeout_ms (cmdline) */
u32 smp_timeout_ms(void);

/* Barrier for n CPUs; false on timeout. Reusable (generation count). */
struct smp_barrier { volatile u32 count, gen; u32 n; };
void smp_barrier_init(struct smp_barrier *b, u32 n);
bool smp_barrier_wait(struct smp_barrier *b, u64 deadline);

#endif
