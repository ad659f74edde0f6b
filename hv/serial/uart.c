#include <uart16550.h>
#include <x86.h>
#include "serial/uart.h"

static uint16_t base = 0x3f8;
static uint32_t fifo_depth = 1;

void uart_init(uint16_t port, uint32_t baud, uint8_t data_bits, char parity,
               uint8_t stop_bits)
{
    uint16_t divisor = 115200 / baud;
    uint8_t lcr = (data_bits - 5) | (stop_bits == 2 ? 0x04 : 0) |
                  (parity == 'o' ? 0x08 : parity == 'e' ? 0x18 : 0);
    base = port;
    outb(base + UART_IER, 0);            /* polled: no UART interrupts */
    outb(base + UART_LCR, 0x80);
    outb(base + UART_DLL, divisor & 0xff);
    outb(base + UART_DLM, divisor >> 8);
    outb(base + UART_LCR, lcr);
    outb(base + UART_FCR, 0x07);         /* FIFOs on and cleared */
    /* IIR[7:6] = 11: the FIFOs really are on (a 16550A, 16 bytes); an
     * 8250 or 16450 has none and takes one byte per THR empty. */
    fifo_depth = (inb(base + UART_IIR) & 0xc0) == 0xc0 ? 16 : 1;
    /* OUT2 only lets the IRQ through; with IER = 0 there is none, unless
     * uart_irq_line raises it for the guest. */
    outb(base + UART_MCR, MCR_DTR_RTS | MCR_OUT2);
}

void uart_irq_line(bool raise)
{
    /* The THR-empty interrupt: the line rises at once when the transmitter
     * is idle, or when the byte being sent leaves. */
    outb(base + UART_IER, raise ? IER_THRI : 0);
}

uint16_t uart_base(void)
{
    return base;
}

bool uart_tx_ready(void)
{
    return inb(base + UART_LSR) & LSR_THR_EMPTY;
}

void uart_wait_tx_ready(void)
{
    /* Bounded: a UART that never drains must not hang the fatal path. */
    for (uint32_t i = 0; i < 1000000 && !uart_tx_ready(); i++)
        cpu_relax();
}

uint32_t uart_tx_fifo_depth(void)
{
    return fifo_depth;
}

void uart_put_nowait(uint8_t c)
{
    outb(base + UART_THR, c);
}

void uart_putc(uint8_t c)
{
    uart_wait_tx_ready();
    outb(base + UART_THR, c);
}

void uart_write(const void *buf, uint32_t len)
{
    const uint8_t *p = buf;
    while (len--)
        uart_putc(*p++);
}

int uart_getc(void)
{
    if (!(inb(base + UART_LSR) & LSR_DATA_READY))
        return -1;
    return inb(base + UART_RBR);
}
