/* The guest's COM1, emulated so its bytes travel on the GUEST channel of the
 * framed line instead of garbling it. A 16550 as GRUB and Linux's 8250
 * driver probe it (scratch, IER, loopback, THRE reassertion), transmitting
 * instantly and receiving what the host sends as GUEST frames. Polled
 * consoles (GRUB, Linux printk, the test guest) just work; interrupt-driven
 * ones (Linux's tty) get THR-empty and received-data interrupts on IRQ4,
 * raised through the real COM1's interrupt line when the hypervisor's own
 * UART is COM1 (the default); otherwise the guest sees no interrupts. */
#ifndef HV_VMX_GUEST_UART_H
#define HV_VMX_GUEST_UART_H
#include <stdint.h>
#include <stdbool.h>

#define GUEST_UART_BASE 0x3f8
#define GUEST_UART_PORTS 8

/* An IN/OUT of `size` bytes at `port` (inside the UART's 8 ports). */
uint32_t guest_uart_in(uint16_t port);
void guest_uart_out(uint16_t port, uint8_t value);
/* Host -> guest bytes (called by the line owner from console/rx.c). */
void guest_uart_receive(const uint8_t *bytes, uint32_t len);
/* Moves buffered guest output into this CPU's guest ring when it is a full
 * line or has waited long enough (called before each drain). */
void guest_uart_flush(bool force);

#endif
