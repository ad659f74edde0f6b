/* The line's transmit queue (inside the serial stage): whole frames wait
 * here for the UART, which takes them at the line's speed. The VM-exit
 * path only tops up the UART's FIFO (txq_pump) and goes back to the guest;
 * only the fatal path, a stopped machine and a guest's own serial output
 * wait for the bytes to leave (txq_flush). Only the line owner calls
 * these. */
#ifndef HV_SERIAL_TXQ_H
#define HV_SERIAL_TXQ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TXQ_SIZE 65536u             /* power of two: ~5.7 s of line at 115200 */

size_t txq_room(void);
bool txq_empty(void);
void txq_put(uint8_t byte);
/* What the UART takes without waiting: a FIFO's worth once it is empty. */
void txq_pump(void);
/* Everything out, waiting on the UART (each wait bounded, as uart_putc's). */
void txq_flush(void);

#endif
