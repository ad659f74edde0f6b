/* Unit tests for the line's two transmit queues (hv/serial/txq.c, built in
 * here against a fake 16550): trace frames in TXQ_LO never hold back what
 * TXQ_HI carries by more than the frame the UART is in the middle of, the
 * UART never interleaves two frames' bytes, txq_flush_hi leaves trace
 * frames queued, and a full queue is flushed, never dropped from. */
#include <stdio.h>
#include <string.h>

#include "serial/txq.c"

#include "unit_check.h"

/* The fake UART: a 16-byte FIFO that is empty whenever `ready` says so;
 * every byte written is appended to `wire`. */
static uint8_t wire[1 << 20];
static size_t wire_len;
static bool ready = true;
static unsigned waits;

bool uart_tx_ready(void) { return ready; }
uint32_t uart_tx_fifo_depth(void) { return 16; }
void uart_put_nowait(uint8_t c) { wire[wire_len++] = c; }
void uart_wait_tx_ready(void) { waits++; ready = true; }

/* A frame as the drain queues it: n bytes with no zero, then FRAME_DELIM;
 * its bytes all equal `tag`, so the wire shows whose bytes went when. */
static void put_frame(enum txq_class c, uint8_t tag, size_t n)
{
    for (size_t i = 0; i < n; i++)
        txq_put(c, tag);
    txq_put(c, FRAME_DELIM);
}

/* The wire as frames: each must be one tag only (no interleaving); writes
 * the tags in wire order to tags[] and returns how many frames. */
static int wire_frames(uint8_t *tags, int cap)
{
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i < wire_len; i++) {
        if (wire[i] != FRAME_DELIM)
            continue;
        if (i > start) {
            for (size_t k = start; k < i; k++)
                CHECK(wire[k] == wire[start]);      /* one frame's bytes only */
            if (n < cap)
                tags[n] = wire[start];
            n++;
        }
        start = i + 1;
    }
    return n;
}

static void reset(void)
{
    txq_flush();
    wire_len = 0;
    waits = 0;
    ready = true;
}

/* A guest frame queued while the UART is inside a trace frame goes right
 * after that frame, ahead of the trace frames queued before it. */
static void test_hi_overtakes_queued_trace(void)
{
    reset();
    put_frame(TXQ_LO, 'a', 100);
    put_frame(TXQ_LO, 'b', 100);
    put_frame(TXQ_LO, 'c', 100);
    txq_pump();                             /* 16 bytes of 'a' */
    CHECK(wire_len == 16);
    put_frame(TXQ_HI, 'G', 40);
    while (!txq_empty())
        txq_pump();
    uint8_t tags[8];
    CHECK(wire_frames(tags, 8) == 4);
    CHECK(memcmp(tags, "aGbc", 4) == 0);
}

/* txq_flush_hi: out goes TXQ_HI (and the trace frame in progress), the rest
 * of the trace stays queued; txq_flush then sends it. */
static void test_flush_hi_leaves_trace_queued(void)
{
    reset();
    put_frame(TXQ_LO, 'a', 50);
    put_frame(TXQ_LO, 'b', 3000);
    txq_pump();
    put_frame(TXQ_HI, 'G', 30);
    put_frame(TXQ_HI, 'H', 30);
    ready = false;                          /* the FIFO is busy: flush must wait */
    txq_flush_hi();
    CHECK(waits > 0);
    uint8_t tags[8];
    int n = wire_frames(tags, 8);
    CHECK(n == 3 && memcmp(tags, "aGH", 3) == 0);
    CHECK(!txq_empty());
    CHECK(wire_len < 50 + 1 + 62 + 16);     /* at most a FIFO's worth of 'b' */
    txq_flush();
    CHECK(txq_empty());
    n = wire_frames(tags, 8);
    CHECK(n == 4 && memcmp(tags, "aGHb", 4) == 0);
}

/* Between frames the UART prefers TXQ_HI, within a frame it never switches. */
static void test_no_interleaving_under_mixed_load(void)
{
    reset();
    uint8_t want_hi = 0, want_lo = 0;
    for (int round = 0; round < 200; round++) {
        if (round % 3 == 0 && txq_room(TXQ_HI) > 200)
            put_frame(TXQ_HI, (uint8_t)('A' + want_hi++ % 26), 1 + round % 90);
        if (txq_room(TXQ_LO) > 600)
            put_frame(TXQ_LO, (uint8_t)('a' + want_lo++ % 26), 1 + (round * 7) % 500);
        ready = round % 2;
        txq_pump();
    }
    txq_flush();
    uint8_t tags[512];
    int n = wire_frames(tags, 512);
    CHECK(n == want_hi + want_lo);
    /* each queue's frames in their own order */
    uint8_t hi = 0, lo = 0;
    for (int i = 0; i < n && i < 512; i++) {
        if (tags[i] >= 'A' && tags[i] <= 'Z')
            CHECK(tags[i] == 'A' + hi++ % 26);
        else
            CHECK(tags[i] == 'a' + lo++ % 26);
    }
}

/* A put into a full queue flushes first: nothing is dropped. */
static void test_full_queue_flushes(void)
{
    reset();
    CHECK(txq_room(TXQ_LO) == TXQ_LO_SIZE);
    put_frame(TXQ_LO, 'x', TXQ_LO_SIZE + 100);
    CHECK(waits > 0);
    txq_flush();
    CHECK(wire_len == TXQ_LO_SIZE + 101);
    uint8_t tags[2];
    CHECK(wire_frames(tags, 2) == 1 && tags[0] == 'x');
}

int main(void)
{
    test_hi_overtakes_queued_trace();
    test_flush_hi_leaves_trace_queued();
    test_no_interleaving_under_mixed_load();
    test_full_queue_flushes();
    if (failures)
        return 1;
    printf("test_txq: all passed\n");
    return 0;
}
