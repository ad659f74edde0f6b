/* COM1, 115200 8n1, polled. One lock so lines from several CPUs (later)
 * never interleave; the owner may re-enter (a fault while printing). */
#include "guest.h"

static u16 uart = 0x3f8;
static volatile int print_owner = -1;

void uart_init(u16 port)
{
	uart = port;
	outb(port + 1, 0x00);   /* no interrupts */
	outb(port + 3, 0x80);   /* DLAB */
	outb(port + 0, 0x01);   /* divisor 1: 115200 */
	outb(port + 1, 0x00);
	outb(port + 3, 0x03);   /* 8n1 */
	outb(port + 2, 0xc7);   /* FIFOs on, cleared */
	outb(port + 4, 0x03);   /* DTR, RTS; OUT2 off */
}

static void uart_putc(char c)
{
	/* Bounded wait: a missing UART must not hang the guest. */
	for (unsigned i = 0; i < 1000000 && !(inb(uart + 5) & 0x20); i++)
		cpu_relax();
	outb(uart, (u8)c);
}

void console_write(const char *s, size_t n)
{
	int me = (int)this_cpu()->index;
	bool took = false;
	if (print_owner != me) {
		for (;;) {
			int expect = -1;
			if (__atomic_compare_exchange_n(&print_owner, &expect, me, false,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				break;
			cpu_relax();
		}
		took = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			uart_putc('\r');
		uart_putc(s[i]);
	}
	if (took)
		__atomic_store_n(&print_owner, -1, __ATOMIC_RELEASE);
}
