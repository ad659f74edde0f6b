/* Time from the TSC. The rate is measured once against PIT channel 2 (the
 * way Linux's pit_calibrate_tsc does: gate on, mode 0, poll OUT2 in port
 * 0x61), so timeouts are in real -- or, in Bochs, virtual -- time on any
 * machine. Only the BSP calibrates (it owns the PIT); APs read the result. */
#include "guest.h"

#define PIT_HZ       1193182u
#define CAL_MS       20u
#define FALLBACK_KHZ 2000000u       /* 2 GHz if the PIT does not answer */

static volatile u64 khz;

/* TSC ticks over CAL_MS of PIT channel 2, or 0 if OUT2 never rose. */
static u64 pit_measure(void)
{
	u16 latch = (u16)(PIT_HZ * CAL_MS / 1000);
	outb(0x61, (inb(0x61) & ~0x02) | 0x01);   /* gate 2 on, speaker off */
	outb(0x43, 0xb0);                          /* ch 2, lo/hi, mode 0, binary */
	outb(0x42, latch & 0xff);
	outb(0x42, latch >> 8);
	u64 t0 = rdtsc();
	for (u32 i = 0; i < 100000000u; i++)
		if (inb(0x61) & 0x20)
			return rdtsc() - t0;
	return 0;
}

u64 tsc_khz(void)
{
	if (khz)
		return khz;
	u64 ticks = pit_measure();
	u64 k = ticks / CAL_MS;
	if (k < 1000) {                           /* < 1 MHz: not believable */
		info("TSC calibration against PIT channel 2 failed (%lu ticks in %u ms); "
		     "assuming %u kHz", ticks, CAL_MS, FALLBACK_KHZ);
		k = FALLBACK_KHZ;
	} else {
		info("TSC %lu kHz (calibrated against PIT channel 2 over %u ms)", k, CAL_MS);
	}
	khz = k;
	return k;
}

u64 tsc_deadline_ms(u64 ms)
{
	return rdtsc() + ms * tsc_khz();
}

void udelay(u64 us)
{
	u64 end = rdtsc() + us * tsc_khz() / 1000;
	while (rdtsc() < end)
		cpu_relax();
}
