/* The line's transmit queues (inside the serial stage): whole frames wait
 * here for the UART, which takes them at the line's speed. Two queues, so
 * that trace never delays what a person or a guest is waiting for: TXQ_HI
 * carries the console, the channels (guest, gdb) and control frames,
 * TXQ_LO the trace and flight-recorder frames. The UART takes whole frames
 * (a frame ends with FRAME_DELIM) and, between frames, TXQ_HI first: a
 * guest line waits behind at most one trace frame, never behind a backlog
 * of them. The VM-exit path only tops up the UART's FIFO (txq_pump) and
 * goes back to the guest; only the fatal path, a stopped machine and a
 * guest's own serial output wait for bytes to leave. Only the line owner
 * calls these (txq_empty excepted). */
#ifndef HV_SERIAL_TXQ_H
#define HV_SERIAL_TXQ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum txq_class { TXQ_HI = 0, TXQ_LO = 1, TXQ_NCLASS };

#define TXQ_HI_SIZE 65536u          /* power of two: ~5.7 s of line at 115200 */
#define TXQ_LO_SIZE 16384u          /* trace beyond this waits in its rings */

/* Free bytes in one queue. */
size_t txq_room(enum txq_class c);
/* Both queues empty (any CPU may ask: serial_tx_pump_period). */
bool txq_empty(void);
/* Append to queue c; a full queue is flushed first (callers check the
 * room before a frame, so this is the fatal path's last resort). */
void txq_put(enum txq_class c, uint8_t byte);
/* What the UART takes without waiting: a FIFO's worth once it is empty. */
void txq_pump(void);
/* Until queue TXQ_HI is out (after the trace frame the UART was in the
 * middle of), waiting on the UART; TXQ_LO's other frames stay queued. */
void txq_flush_hi(void);
/* Everything out, waiting on the UART (each wait bounded, as uart_putc's). */
void txq_flush(void);

#endif
