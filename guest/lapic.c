/* The local APIC, xAPIC (MMIO) or x2APIC (MSRs), of the calling CPU.
 *
 * xAPIC accesses are plain 32-bit `mov` loads and stores, one register
 * each, on purpose: a hypervisor that traps the LAPIC page through EPT
 * single-steps every access and decodes one simple instruction -- no
 * string instructions, no 64-bit or partial accesses. Interrupt and NMI
 * handlers never touch the LAPIC except the wake handler's EOI (taken only
 * in the idle loop), so the ICR high/low pair is never interleaved. */
#include "smp.h"

#define MSR_APIC_BASE    0x1b
#define APIC_BASE_BSP    (1ull << 8)
#define APIC_BASE_EXTD   (1ull << 10)
#define APIC_BASE_EN     (1ull << 11)
#define X2APIC_MSR(reg)  (0x800u + ((reg) >> 4))
#define X2APIC_ICR       0x830u

extern u64 boot_pd[];               /* boot.S: 2 MiB pages over [0, 4 GiB) */

static u64 mmio_base;

static inline u32 mmio_read32(u64 addr)
{
	u32 v;
	asm volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline void mmio_write32(u64 addr, u32 v)
{
	asm volatile("movl %0, (%1)" :: "r"(v), "r"(addr) : "memory");
}

bool lapic_x2apic_supported(void)
{
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	return c & (1u << 21);
}

bool lapic_is_x2apic(void) { return this_cpu()->x2apic; }

u64 lapic_mmio_base(void) { return mmio_base; }

/* The 2 MiB page holding the xAPIC page becomes UC (PCD|PWT), as the SDM
 * asks for APIC registers; the firmware's MTRRs usually say so as well. */
static void map_uncached(u64 base)
{
	u64 *pde = &boot_pd[base >> 21];
	if (base >= IDENTITY_MAP_END || (*pde & 0x18) == 0x18)
		return;
	*pde |= 0x18;
	asm volatile("invlpg (%0)" :: "r"(base) : "memory");
}

/* Accesses by mode (0 xAPIC page, 1 x2APIC MSR) and register (offset >> 4),
 * all CPUs: the bench divides the hypervisor's exits by these. */
static u64 access_count[2][0x40];

static void count(u32 reg)
{
	__atomic_fetch_add(&access_count[this_cpu()->x2apic ? 1 : 0][(reg >> 4) & 0x3f], 1,
			   __ATOMIC_RELAXED);
}

void lapic_print_access_counts(void)
{
	for (int mode = 0; mode < 2; mode++)
		for (int r = 0; r < 0x40; r++)
			if (access_count[mode][r])
				printf("INFO lapic_stats: %s reg 0x%03x accesses %lu\n",
				       mode ? "x2apic" : "xapic", r << 4,
				       (unsigned long)access_count[mode][r]);
}

u32 lapic_read(u32 reg)
{
	count(reg);
	if (this_cpu()->x2apic)
		return (u32)rdmsr(X2APIC_MSR(reg));
	return mmio_read32(mmio_base + reg);
}

void lapic_write(u32 reg, u32 val)
{
	count(reg);
	if (this_cpu()->x2apic)
		wrmsr(X2APIC_MSR(reg), val);
	else
		mmio_write32(mmio_base + reg, val);
}

u32 lapic_id(void)
{
	u32 id = lapic_read(LAPIC_ID);
	return this_cpu()->x2apic ? id : id >> 24;
}

void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

bool lapic_send(u32 dest, u32 icr)
{
	count(LAPIC_ICR_LO);
	if (this_cpu()->x2apic) {
		wrmsr(X2APIC_ICR, (u64)dest << 32 | icr);
		return true;
	}
	count(LAPIC_ICR_HI);
	mmio_write32(mmio_base + LAPIC_ICR_HI, dest << 24);
	mmio_write32(mmio_base + LAPIC_ICR_LO, icr);
	for (u32 i = 0; i < 1000000; i++) {
		count(LAPIC_ICR_LO);
		if (!(mmio_read32(mmio_base + LAPIC_ICR_LO) & ICR_BUSY))
			return true;
		cpu_relax();
	}
	return false;
}

/* LVTs and friends after an INIT or a mode change (both reset them). */
static void lapic_setup(bool bsp)
{
	lapic_write(LAPIC_SVR, 0x100 | SPURIOUS_VECTOR);     /* software enable */
	lapic_write(LAPIC_TPR, 0);
	/* Linux: ExtINT (the 8259 in virtual-wire mode) on the BSP only. */
	lapic_write(LAPIC_LVT_LINT0, bsp ? LVT_DM_EXTINT : LVT_DM_EXTINT | LVT_MASKED);
	lapic_write(LAPIC_LVT_LINT1, LVT_DM_NMI);
	lapic_write(LAPIC_LVT_ERROR, LVT_MASKED | 0xfe);
	lapic_write(LAPIC_ESR, 0);
}

bool lapic_set_mode(bool x2apic, bool bsp)
{
	u64 base = rdmsr(MSR_APIC_BASE);
	if (bsp && !mmio_base) {
		mmio_base = base & 0xffffff000ull;
		map_uncached(mmio_base);
	}
	this_cpu()->x2apic = (base & APIC_BASE_EXTD) != 0;   /* as found (after INIT too) */
	if (x2apic ? !lapic_x2apic_supported() : this_cpu()->x2apic)
		return false;
	base |= APIC_BASE_EN;
	wrmsr(MSR_APIC_BASE, base);                 /* xAPIC first: EN before EXTD */
	if (x2apic)
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_EXTD);
	this_cpu()->x2apic = x2apic;
	lapic_setup(bsp);
	return true;
}
