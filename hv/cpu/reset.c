/* Resetting the whole machine, as the platform's reset button would: the
 * firmware runs again, then GRUB, the hypervisor and the guest. */
#include <x86.h>
#include "cpu/reset.h"
#include "cpu/tsc.h"

void platform_reset(void)
{
    irq_disable();
    /* The PCI reset control register (0xcf9, PIIX/ICH): a hard reset. */
    outb(0xcf9, 0x02);
    udelay(50);
    outb(0xcf9, 0x06);
    udelay(50000);
    /* The 8042 keyboard controller's pulse of the reset line. */
    outb(0x64, 0xfe);
    udelay(50000);
    /* Port 0x92 bit 0: fast reset (a CPU reset, as on a PC/AT). */
    outb(0x92, inb(0x92) | 1);
    udelay(50000);
    /* Last resort: a triple fault of our own (an empty IDT). */
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) none = { 0, 0 };
    __asm__ volatile("lidt %0; int3" :: "m"(none));
    for (;;)
        cpu_halt();
}
