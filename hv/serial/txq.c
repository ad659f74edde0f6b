/* The line's transmit queues (txq.h). Each is a ring of bytes with one
 * producer and one consumer, both the line owner; other CPUs only ask
 * whether they are empty (serial_tx_pump_period), hence the atomic index
 * updates. */
#include "serial/txq.h"
#include "serial/uart.h"
#include "trace/frame.h"

static uint8_t hi_buf[TXQ_HI_SIZE], lo_buf[TXQ_LO_SIZE];

static struct queue {
    uint8_t *buf;
    uint32_t size;
    uint32_t head, tail;        /* free-running: head - tail bytes queued */
} q[TXQ_NCLASS] = {
    [TXQ_HI] = { hi_buf, TXQ_HI_SIZE, 0, 0 },
    [TXQ_LO] = { lo_buf, TXQ_LO_SIZE, 0, 0 },
};

/* The queue whose frame the UART is in the middle of: its bytes go on
 * until that frame's delimiter (interleaving two frames' bytes would break
 * both). -1 between frames. */
static int sending = -1;

static bool q_empty(const struct queue *x)
{
    return __atomic_load_n(&x->head, __ATOMIC_ACQUIRE) ==
           __atomic_load_n(&x->tail, __ATOMIC_ACQUIRE);
}

size_t txq_room(enum txq_class c)
{
    return q[c].size - (q[c].head - q[c].tail);
}

bool txq_empty(void)
{
    return q_empty(&q[TXQ_HI]) && q_empty(&q[TXQ_LO]);
}

void txq_put(enum txq_class c, uint8_t byte)
{
    if (txq_room(c) == 0)
        txq_flush();    /* callers check the room first; never drop a byte */
    struct queue *x = &q[c];
    x->buf[x->head % x->size] = byte;
    __atomic_store_n(&x->head, x->head + 1, __ATOMIC_RELEASE);
}

/* The queue the UART takes its next byte from, or -1 if none may go now
 * (nothing queued, or the frame in progress has no more bytes yet). */
static int next_queue(void)
{
    if (sending >= 0)
        return q_empty(&q[sending]) ? -1 : sending;
    if (!q_empty(&q[TXQ_HI]))
        return TXQ_HI;
    return q_empty(&q[TXQ_LO]) ? -1 : TXQ_LO;
}

/* THR empty means the whole FIFO is (16550A with FIFOs on: 16 bytes; an
 * 8250 takes one), so this never waits on the UART. */
static void load_fifo(void)
{
    for (uint32_t n = uart_tx_fifo_depth(); n; n--) {
        int k = next_queue();
        if (k < 0)
            return;
        struct queue *x = &q[k];
        uint8_t c = x->buf[x->tail % x->size];
        uart_put_nowait(c);
        __atomic_store_n(&x->tail, x->tail + 1, __ATOMIC_RELEASE);
        sending = c == FRAME_DELIM ? -1 : k;
    }
}

void txq_pump(void)
{
    if (next_queue() >= 0 && uart_tx_ready())
        load_fifo();
}

void txq_flush_hi(void)
{
    /* While TXQ_HI waits, next_queue finishes the trace frame in progress
     * first; once TXQ_HI is out, the trace frames stay queued (the last
     * FIFO load may have started one: it goes on at the next pump). */
    while (!q_empty(&q[TXQ_HI]) && next_queue() >= 0) {
        uart_wait_tx_ready();
        load_fifo();
    }
}

void txq_flush(void)
{
    while (next_queue() >= 0) {
        uart_wait_tx_ready();
        load_fifo();
    }
}
