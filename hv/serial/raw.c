/* The raw line (gdb=raw): once the GDB stub owns the line, its bytes go to
 * the UART unframed and the drain leaves the events in their rings for
 * gdb (serial.h: serial_set_raw_owner). */
#include "serial/serial.h"
#include "serial/txq.h"
#include "serial/uart.h"

static const struct serial_raw_owner *raw_owner;

void serial_set_raw_owner(const struct serial_raw_owner *o)
{
    __atomic_store_n(&raw_owner, o, __ATOMIC_RELEASE);
}

const struct serial_raw_owner *serial_raw(void)
{
    return __atomic_load_n(&raw_owner, __ATOMIC_ACQUIRE);
}

void serial_raw_write(const void *bytes, size_t len)
{
    txq_flush();        /* frames queued before the line went raw go first */
    uart_write(bytes, len);
}
