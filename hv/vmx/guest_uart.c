#include <string.h>
#include <console.h>
#include <percpu.h>
#include <tsc.h>
#include <x86.h>
#include "console/console_rings.h"
#include "vmx/guest_uart.h"
#include "trace/wire.h"

#define LCR_DLAB   0x80
#define MCR_LOOP   0x10
#define IER_RDI    0x01
#define IER_THRI   0x02
#define LSR_DR     0x01
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define RX_SIZE    1024         /* power of two */
#define TX_LINE    192
#define TX_MAX_AGE_US 20000     /* a prompt without newline shows within 20 ms */

static struct {
    uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
    bool thri_pending;          /* THR empty not yet reported through IIR */
} uart = { .dll = 1, .thri_pending = true };

/* Host -> guest: one producer (the line owner), one consumer (the vCPU
 * reading RBR; the guest serialises its own UART accesses). */
static uint8_t rx_buf[RX_SIZE];
static uint32_t rx_head, rx_tail;
static uint64_t rx_dropped;

/* Guest -> host, per vCPU: bytes wait for a full line, then become one
 * record in that CPU's guest ring. */
static struct {
    char buf[TX_LINE];
    uint32_t len;
    uint64_t first_tsc;
} tx[MAX_CPUS];

static bool rx_empty(void)
{
    return __atomic_load_n(&rx_head, __ATOMIC_ACQUIRE) == rx_tail;
}

void guest_uart_receive(const uint8_t *bytes, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {
        uint32_t head = rx_head;
        if (head - __atomic_load_n(&rx_tail, __ATOMIC_ACQUIRE) == RX_SIZE) {
            rx_dropped += len - i;      /* the guest is not reading */
            return;
        }
        rx_buf[head % RX_SIZE] = bytes[i];
        __atomic_store_n(&rx_head, head + 1, __ATOMIC_RELEASE);
    }
}

static uint8_t rx_pop(void)
{
    if (rx_empty())
        return 0;
    uint8_t c = rx_buf[rx_tail % RX_SIZE];
    __atomic_store_n(&rx_tail, rx_tail + 1, __ATOMIC_RELEASE);
    return c;
}

static void tx_flush_cpu(uint32_t cpu)
{
    if (!tx[cpu].len || !cpu_rings[cpu].ready)
        return;
    uint8_t rec[WIRE_RAW_MAX];
    size_t n = wire_raw_encode_text(rec, sizeof(rec), tx[cpu].first_tsc, tx[cpu].buf, tx[cpu].len);
    ring_write(&cpu_rings[cpu].ring[RING_GUEST], rec, n);
    tx[cpu].len = 0;
}

void guest_uart_flush(bool force)
{
    uint32_t cpu = this_cpu_index();
    if (!tx[cpu].len)
        return;
    if (force || tsc_to_us(rdtsc() - tx[cpu].first_tsc) >= TX_MAX_AGE_US)
        tx_flush_cpu(cpu);
}

static void tx_byte(uint8_t c)
{
    uint32_t cpu = this_cpu_index();
    if (!tx[cpu].len)
        tx[cpu].first_tsc = rdtsc();
    tx[cpu].buf[tx[cpu].len++] = c;
    if (c == '\n' || tx[cpu].len == TX_LINE)
        tx_flush_cpu(cpu);
}

/* In loopback the modem outputs come back as inputs (8250 probes rely on it). */
static uint8_t modem_status(void)
{
    if (!(uart.mcr & MCR_LOOP))
        return 0xb0;                    /* DCD, DSR, CTS */
    uint8_t m = uart.mcr;
    return (uint8_t)(((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4));
}

uint32_t guest_uart_in(uint16_t port)
{
    switch (port - GUEST_UART_BASE) {
    case 0: return uart.lcr & LCR_DLAB ? uart.dll : rx_pop();
    case 1: return uart.lcr & LCR_DLAB ? uart.dlm : uart.ier;
    case 2: {
        uint8_t fifo = uart.fcr & 1 ? 0xc0 : 0;
        if ((uart.ier & IER_RDI) && !rx_empty())
            return fifo | 0x04;
        if ((uart.ier & IER_THRI) && uart.thri_pending) {
            uart.thri_pending = false;  /* reading IIR clears it (see .h) */
            return fifo | 0x02;
        }
        return fifo | 0x01;
    }
    case 3: return uart.lcr;
    case 4: return uart.mcr;
    case 5: return LSR_THRE | LSR_TEMT | (rx_empty() ? 0 : LSR_DR);
    case 6: return modem_status();
    default: return uart.scr;
    }
}

void guest_uart_out(uint16_t port, uint8_t v)
{
    switch (port - GUEST_UART_BASE) {
    case 0:
        if (uart.lcr & LCR_DLAB)
            uart.dll = v;
        else if (uart.mcr & MCR_LOOP)
            guest_uart_receive(&v, 1);  /* loopback: what is sent comes back */
        else
            tx_byte(v);
        uart.thri_pending = true;       /* sent at once: THR empty again */
        break;
    case 1:
        if (uart.lcr & LCR_DLAB)
            uart.dlm = v;
        else
            uart.ier = v & 0x0f;
        break;
    case 2: uart.fcr = v; break;
    case 3: uart.lcr = v; break;
    case 4: uart.mcr = v & 0x1f; break;
    case 7: uart.scr = v; break;
    default: break;                     /* LSR/MSR are read-only */
    }
}
