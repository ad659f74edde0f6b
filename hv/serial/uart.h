#ifndef HV_CONSOLE_UART_H
#define HV_CONSOLE_UART_H
#include <stdint.h>
#include <stdbool.h>

/* 8250/16550 UART, polled. Only the console drain and the fatal path call
 * these, and only while they own the line. */
void uart_init(uint16_t port, uint32_t baud, uint8_t data_bits, char parity,
               uint8_t stop_bits);
void uart_putc(uint8_t c);
/* THR empty: with FIFOs on, the whole FIFO is (uart_tx_fifo_depth bytes
 * may be written at once). */
bool uart_tx_ready(void);
void uart_wait_tx_ready(void);
uint32_t uart_tx_fifo_depth(void);
/* Writes THR without looking: only after uart_tx_ready said there is room. */
void uart_put_nowait(uint8_t c);
void uart_write(const void *buf, uint32_t len);
/* Returns -1 when no byte is waiting. */
int uart_getc(void);
/* Raises or lowers this UART's interrupt line (IRQ4 for COM1) for the
 * guest's emulated COM1 (hv/vmx/guest_uart.c); the hypervisor itself never
 * takes UART interrupts. Any CPU; IER is not touched by the drain. */
void uart_irq_line(bool raise);
uint16_t uart_base(void);

#endif
