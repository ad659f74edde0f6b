/* The line's transmit queue (txq.h). A ring of bytes with one producer and
 * one consumer, both the line owner; other CPUs only ask whether it is
 * empty (serial_tx_pump_period), hence the atomic index updates. */
#include "serial/txq.h"
#include "serial/uart.h"

static uint8_t buf[TXQ_SIZE];
static uint32_t head, tail;     /* free-running: head - tail bytes queued */

size_t txq_room(void)
{
    return TXQ_SIZE - (head - tail);
}

bool txq_empty(void)
{
    return __atomic_load_n(&head, __ATOMIC_ACQUIRE) == __atomic_load_n(&tail, __ATOMIC_ACQUIRE);
}

void txq_put(uint8_t byte)
{
    if (txq_room() == 0)
        txq_flush();    /* callers check the room first; never drop a byte */
    buf[head % TXQ_SIZE] = byte;
    __atomic_store_n(&head, head + 1, __ATOMIC_RELEASE);
}

/* THR empty means the whole FIFO is (16550A with FIFOs on: 16 bytes; an
 * 8250 takes one), so this never waits on the UART. */
static void load_fifo(void)
{
    for (uint32_t n = uart_tx_fifo_depth(); n && tail != head; n--) {
        uart_put_nowait(buf[tail % TXQ_SIZE]);
        __atomic_store_n(&tail, tail + 1, __ATOMIC_RELEASE);
    }
}

void txq_pump(void)
{
    if (tail != head && uart_tx_ready())
        load_fifo();
}

void txq_flush(void)
{
    while (tail != head) {
        uart_wait_tx_ready();
        load_fifo();
    }
}
