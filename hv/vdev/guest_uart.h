/* The guest's COM1, emulated so its bytes travel on the GUEST channel of the
 * framed line instead of garbling it. A 16550 as GRUB and Linux's 8250
 * driver probe it (scratch, IER, loopback, THRE reassertion), transmitting
 * instantly and receiving what the host sends as GUEST frames. Polled
 * consoles (GRUB, Linux printk, the test guest) just work; interrupt-driven
 * ones (Linux's tty) get THR-empty and received-data interrupts on IRQ4,
 * raised through the real COM1's interrupt line when the hypervisor's own
 * UART is COM1 (the default); otherwise the guest sees no interrupts. */
#ifndef HV_VDEV_GUEST_UART_H
#define HV_VDEV_GUEST_UART_H
#include <stdint.h>
#include <stdbool.h>

#define GUEST_UART_BASE 0x3f8
#define GUEST_UART_PORTS 8      /* UART_PORTS of uart16550.h */

/* Once, after the VMX core: the I/O ports and the GUEST channel (unless
 * guest_serial=passthrough). */
void guest_uart_init(void);

#endif
