/* TSC rate, measured against PIT channel 2 (its gate and output are on
 * port 0x61, so no interrupt is needed). */
#include "cpu/tsc.h"
#include <x86.h>

uint64_t tsc_per_ms = 1000000;      /* until calibrated: assume 1 GHz */

void tsc_calibrate(void)
{
    const uint16_t ticks = 11932;   /* 10 ms at 1.193182 MHz */
    outb(0x61, (inb(0x61) & ~0x02) | 0x01);
    outb(0x43, 0xb0);               /* channel 2, lo/hi, mode 0 */
    outb(0x42, ticks & 0xff);
    outb(0x42, ticks >> 8);
    uint64_t t0 = rdtsc();
    uint64_t spins = 0;
    while (!(inb(0x61) & 0x20))
        if (++spins > 100000000)
            return;                 /* no PIT: keep the default */
    uint64_t t1 = rdtsc();
    if (t1 > t0)
        tsc_per_ms = (t1 - t0) / 10 ? (t1 - t0) / 10 : 1;
}

void udelay(uint64_t us)
{
    uint64_t end = rdtsc() + us * tsc_per_ms / 1000;
    while (rdtsc() < end)
        cpu_relax();
}

uint64_t tsc_to_us(uint64_t ticks) { return ticks * 1000 / tsc_per_ms; }
