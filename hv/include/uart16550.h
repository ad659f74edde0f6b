/* The 8250/16550 UART's registers and bits (National Semiconductor PC16550D
 * data sheet), shared by the driver of the real UART (hv/serial/uart.c) and
 * the model of the guest's COM1 (hv/vdev/guest_uart.c). Register offsets
 * from the port base. */
#ifndef HV_UART16550_H
#define HV_UART16550_H

#define UART_THR    0       /* transmit holding (write, DLAB=0) */
#define UART_RBR    0       /* receive buffer (read, DLAB=0) */
#define UART_DLL    0       /* divisor latch low (DLAB=1) */
#define UART_IER    1
#define UART_DLM    1       /* divisor latch high (DLAB=1) */
#define UART_IIR    2       /* read */
#define UART_FCR    2       /* write */
#define UART_LCR    3
#define UART_MCR    4
#define UART_LSR    5
#define UART_MSR    6
#define UART_SCR    7
#define UART_PORTS  8

#define IER_RDI         0x01    /* received data available */
#define IER_THRI        0x02    /* transmitter holding register empty */
#define LCR_DLAB        0x80
#define MCR_DTR_RTS     0x03
#define MCR_OUT2        0x08    /* on PCs: connects the UART to its IRQ line */
#define MCR_LOOP        0x10
#define LSR_DATA_READY  0x01
#define LSR_THR_EMPTY   0x20
#define LSR_TX_IDLE     0x40    /* TEMT: holding and shift registers empty */

#endif
