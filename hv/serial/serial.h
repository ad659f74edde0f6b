/* The framed serial line: one stage, one owner at a time. Records leave
 * the per-CPU rings (hv/trace/percpu_rings.h) only here, as frames on the
 * UART (hv/trace/frame.h); host frames arrive only here and go to the
 * CONTROL command table or to a channel's owner.
 *
 * Who may drain, and from where (the one place this is decided:
 * serial_kick in drain.c):
 *  - any CPU in normal context (exit handlers, the idle loop, printf):
 *    it tries the line's lock once and drains if it won, never spins;
 *  - exception and NMI context (exc_depth > 0): never drains; its records
 *    wait in its rings for the next kick from normal context (one
 *    exception: a CPU held in a quiesce wait in its NMI handler long
 *    after the watchdog first reported it, when no such kick may ever
 *    come; it uses serial_service_stopped, hv/nmi/quiesce.c);
 *  - the fatal path (serial_fatal_takeover): waits a bounded time for the
 *    line, then takes it over and flushes every ring. */
#ifndef HV_SERIAL_SERIAL_H
#define HV_SERIAL_SERIAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The UART as configured on the command line; the HELLO frame; output
 * flows from here on (console_set_kick, the CPU layer's fatal flush). */
void serial_start(void);
/* (Re)sends the HELLO control frame: catalogue CRC, CPU count, TSC rate. */
void serial_announce(void);
/* Drains if this context may and nobody else is draining. */
void serial_kick(void);
/* The VM-exit path's kick: never waits for the line (the guest is
 * waiting); what does not fit the UART's FIFO now goes at later kicks. */
void serial_kick_exit(void);
/* A guest's serial line was queued on this CPU: the next kick waits until
 * the line has sent it (with whatever was queued before it). */
void serial_flush_soon(void);
/* Bytes wait for the UART: the TSC cycles the line needs for a FIFO's
 * worth of them, when the next kick should come (0: nothing waits). The
 * VMX core shortens the preemption timer to it. */
uint64_t serial_tx_pump_period(void);
/* Fatal path: takes the line after a bounded wait, flushes every ring. */
void serial_fatal_takeover(void);
/* A machine stopped in the debugger (every other CPU parked): from any
 * context, takes the line (bounded wait, then over: its owner may be
 * parked mid-frame; the receiver resynchronises), polls host input
 * (channels and commands run from here) and drains; lets the line go. */
void serial_service_stopped(void);
/* A CPU held in a quiesce wait inside its NMI handler long past the
 * watchdog's reports: as serial_service_stopped, except on a raw RSP line
 * (gdb=raw), which belongs to gdb's own exchange: a second writer there
 * garbles gdb's packets, and the stub answers from its stop loop anyway. */
void serial_service_stuck(void);
/* The stop (or stuck wait) is over: a line owner that was parked half-way
 * through its drain, and lost the line to serial_service_stopped, gets it
 * back before it runs on. Call before releasing the parked CPUs. */
void serial_line_return(void);
/* For a stopped machine's channel owner whose ring is full (a long gdb
 * reply): drains now, from the receive hook (the line is ours already) or
 * from any context (the line is taken as serial_service_stopped does).
 * Never polls input. */
void serial_drain_now(void);

/* A channel other than console and trace (GUEST, GDB): its owner's bytes
 * travel as frames of its type, and host frames of that type come back to
 * it. Registered once at start-up. */
struct serial_channel {
    uint8_t frame_type;                                 /* FRAME_GUEST, ... */
    const char *name;
    /* Host -> owner, called by the line owner (never concurrently). */
    void (*receive)(const uint8_t *bytes, uint32_t len);
    /* Before each drain on the draining CPU: move buffered output to the
     * ring (force: the fatal path, everything now). May be NULL. */
    void (*flush)(bool force);
};
bool serial_channel_register(const struct serial_channel *ch);
/* Owner -> host: len bytes as one record of this CPU (tsc: when they were
 * produced). False if this CPU's channel ring is full (counted as a loss). */
bool serial_channel_send(uint8_t frame_type, uint64_t tsc, const void *bytes, size_t len);

/* gdb=raw: the line is one program's plain byte stream (the GDB stub's
 * RSP, as kgdb does it): host bytes go to receive, console text and the
 * guest's COM1 output to text (the stub sends them as O packets while gdb
 * waits), trace records stay in their rings (the flight recorder), and
 * nothing else is written to the line. Set once, at start-up. */
struct serial_raw_owner {
    void (*receive)(const uint8_t *bytes, uint32_t len);
    void (*text)(const char *text, size_t len);
};
void serial_set_raw_owner(const struct serial_raw_owner *o);
/* The raw owner's own bytes, straight to the UART. */
void serial_raw_write(const void *bytes, size_t len);

/* Host commands: CONTROL frames whose first byte is op (hv/trace/wire.h
 * WIRE_CTL_*). The handler gets the bytes after op; it runs on the line
 * owner's CPU in normal context. */
typedef void (*host_command_fn)(const uint8_t *args, uint32_t len);
bool serial_command_register(uint8_t op, const char *name, host_command_fn fn);

#endif
