#ifndef HV_CONSOLE_UART_H
#define HV_CONSOLE_UART_H
#include <stdint.h>
#include <stdbool.h>

/* 8250/16550 UART, polled. Only the console drain and the fatal path call
 * these, and only while they own the line. */
void uart_init(uint16_t port, uint32_t baud, uint8_t data_bits, char parity,
               uint8_t stop_bits);
void uart_putc(uint8_t c);
void uart_write(const void *buf, uint32_t len);
/* Returns -1 when no byte is waiting. */
int uart_getc(void);

#endif
