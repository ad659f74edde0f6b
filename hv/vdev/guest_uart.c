/* The guest's COM1 (guest_uart.h says what it emulates). It talks to the
 * line only through the serial stage's GUEST channel, and raises its
 * interrupt through the UART driver's named line (uart_irq_line). */
#include <string.h>
#include <percpu.h>
#include <uart16550.h>
#include <x86.h>
#include "config/config.h"
#include "console/console.h"
#include "cpu/tsc.h"
#include "serial/serial.h"
#include "serial/uart.h"
#include "trace/frame.h"
#include "vdev/guest_uart.h"
#include "vmx/exit_table.h"

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

/* ---- the interrupt line ----------------------------------------------------
 * The guest's COM1 interrupt is the real COM1's IRQ line (IRQ4), which the
 * hypervisor's own UART drives when told to (uart_irq_line): so the guest
 * gets a real interrupt through its own IOAPIC/PIC programming, at its own
 * vector, and its EOI goes where the interrupt came from. Edge-triggered,
 * as on ISA: the line follows "an interrupt is pending" (IIR != no-int),
 * and a new cause while it is already up pulses it, so an edge the guest
 * missed (its pin masked at that moment) is not the last one. */
static int irq_lock;
static bool irq_level;

static bool irq_usable(void)
{
    return uart_base() == GUEST_UART_BASE;     /* the same COM1, so IRQ4 */
}

static bool irq_wanted(void)
{
    if ((uart.mcr & (MCR_OUT2 | MCR_LOOP)) != MCR_OUT2)
        return false;   /* OUT2 gates the IRQ; loopback disconnects it */
    return ((uart.ier & IER_THRI) && uart.thri_pending) || ((uart.ier & IER_RDI) && !rx_empty());
}

static void irq_update(bool new_cause)
{
    if (!irq_usable())
        return;
    while (__atomic_exchange_n(&irq_lock, 1, __ATOMIC_ACQUIRE))
        cpu_relax();    /* exit handlers only (never NMI context): a few port writes */
    bool want = irq_wanted();
    if (want && irq_level && new_cause)
        uart_irq_line(false);
    if (want != irq_level || (want && new_cause))
        uart_irq_line(want);
    irq_level = want;
    __atomic_store_n(&irq_lock, 0, __ATOMIC_RELEASE);
}

static void guest_uart_receive(const uint8_t *bytes, uint32_t len)
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
    if (len)
        irq_update(true);
}

static uint8_t rx_pop(void)
{
    if (rx_empty())
        return 0;
    uint8_t c = rx_buf[rx_tail % RX_SIZE];
    __atomic_store_n(&rx_tail, rx_tail + 1, __ATOMIC_RELEASE);
    if (rx_empty())
        irq_update(false);
    return c;
}

/* Only ever this CPU's own buffer, into this CPU's channel ring. */
static void tx_flush_cpu(uint32_t cpu)
{
    if (!tx[cpu].len)
        return;
    serial_channel_send(FRAME_GUEST, tx[cpu].first_tsc, tx[cpu].buf, tx[cpu].len);
    serial_flush_soon();     /* sent before the guest runs on, as a UART would */
    tx[cpu].len = 0;
}

static void guest_uart_flush(bool force)
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

static uint8_t guest_uart_in(uint16_t port)
{
    switch (port - GUEST_UART_BASE) {
    case UART_RBR: return uart.lcr & LCR_DLAB ? uart.dll : rx_pop();
    case UART_IER: return uart.lcr & LCR_DLAB ? uart.dlm : uart.ier;
    case UART_IIR: {
        uint8_t fifo = uart.fcr & 1 ? 0xc0 : 0;
        if ((uart.ier & IER_RDI) && !rx_empty())
            return fifo | 0x04;
        if ((uart.ier & IER_THRI) && uart.thri_pending) {
            uart.thri_pending = false;  /* reading IIR clears it, as on a 16550 */
            irq_update(false);
            return fifo | 0x02;
        }
        return fifo | 0x01;
    }
    case UART_LCR: return uart.lcr;
    case UART_MCR: return uart.mcr;
    case UART_LSR: return LSR_THR_EMPTY | LSR_TX_IDLE | (rx_empty() ? 0 : LSR_DATA_READY);
    case UART_MSR: return modem_status();
    default: return uart.scr;
    }
}

static void guest_uart_out(uint16_t port, uint8_t v)
{
    switch (port - GUEST_UART_BASE) {
    case UART_THR:
        if (uart.lcr & LCR_DLAB)
            uart.dll = v;
        else if (uart.mcr & MCR_LOOP)
            guest_uart_receive(&v, 1);  /* loopback: what is sent comes back */
        else
            tx_byte(v);
        uart.thri_pending = true;       /* sent at once: THR empty again */
        irq_update(false);
        break;
    case UART_IER:
        if (uart.lcr & LCR_DLAB) {
            uart.dlm = v;
            break;
        }
        /* Enabling THRI with the transmitter empty (always, here) raises
         * THR-empty again, as a 16550 does (Linux's startup checks). With
         * no interrupt line to raise, it stays one-shot instead: Linux then
         * sees a UART "that does not reassert THRE" (UART_BUG_THRE) and
         * drives its tty from a backup timer rather than stalling. */
        if ((v & IER_THRI) && !(uart.ier & IER_THRI) && irq_usable())
            uart.thri_pending = true;
        uart.ier = v & 0x0f;
        irq_update(true);
        break;
    case UART_FCR: uart.fcr = v; break;
    case UART_LCR: uart.lcr = v; break;
    case UART_MCR:
        uart.mcr = v & 0x1f;
        irq_update(false);
        break;
    case UART_SCR: uart.scr = v; break;
    default: break;                     /* LSR/MSR are read-only */
    }
}

void guest_uart_init(void)
{
    static const struct serial_channel guest = {
        FRAME_GUEST, "guest", guest_uart_receive, guest_uart_flush,
    };
    /* guest_serial=passthrough gives the guest the real port instead (its
     * bytes then mix with the hypervisor's: use serial_mode=plain). */
    if (hv_config.guest_serial_passthrough)
        return;
    serial_channel_register(&guest);
    vmx_io_register(GUEST_UART_BASE, GUEST_UART_PORTS, guest_uart_in, guest_uart_out);
}
