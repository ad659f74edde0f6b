/* Power off: ACPI S5 through the FADT's PM1a control block (QEMU and Bochs
 * both implement it), then Bochs's shutdown port, then QEMU's usual PM1a
 * port, then an opt-in isa-debug-exit port; if all that fails, halt with
 * interrupts off. Every step is harmless where its device is absent. */
#include "guest.h"

/* SLP_TYPa for S5 from the DSDT's `Name(_S5, Package(){a, b, ...})`. */
static int s5_slp_typ(const struct sdt_header *dsdt)
{
	const u8 *p = (const u8 *)dsdt, *end = p + dsdt->length;
	for (p += sizeof(*dsdt); p + 8 < end; p++) {
		if (memcmp(p, "_S5_", 4) || p[4] != 0x12)    /* PackageOp */
			continue;
		const u8 *q = p + 5;
		q += 1 + (q[0] >> 6);                        /* PkgLength */
		q++;                                         /* NumElements */
		if (q >= end)
			return -1;
		if (q[0] == 0x0a)                            /* BytePrefix */
			return q[1] & 7;
		if (q[0] == 0x00 || q[0] == 0x01)            /* Zero, One */
			return q[0];
		return -1;
	}
	return -1;
}

static void settle(void)
{
	for (volatile unsigned i = 0; i < 2000000; i++)
		cpu_relax();
}

void power_off(u16 exit_port)
{
	const struct sdt_header *fadt = acpi_find("FACP");
	if (fadt && fadt->length >= 68) {
		u32 pm1a = *(const u32 *)((const u8 *)fadt + 64);
		u32 dsdt_addr = *(const u32 *)((const u8 *)fadt + 40);
		int typ = -1;
		if (acpi_mapped(dsdt_addr, sizeof(struct sdt_header))) {
			const struct sdt_header *dsdt = (const void *)(u64)dsdt_addr;
			if (!memcmp(dsdt->sig, "DSDT", 4) && acpi_mapped(dsdt_addr, dsdt->length))
				typ = s5_slp_typ(dsdt);
		}
		if (pm1a && pm1a < 0x10000 && typ >= 0) {
			outw((u16)pm1a, (u16)(typ << 10 | 1 << 13));
			settle();
		}
	}
	for (const char *s = "Shutdown"; *s; s++)      /* Bochs */
		outb(0x8900, (u8)*s);
	settle();
	outw(0x604, 0x2000);                           /* QEMU PIIX4/ICH9 PM1a, S5 */
	settle();
	if (exit_port) {                               /* QEMU isa-debug-exit */
		outb(exit_port, 0);
		settle();
	}
	printf("GUEST HALT: power-off did not take effect, halting\n");
	halt_forever();
}
