/* The GDB Remote Serial Protocol, as a portable core: packet framing
 * ($...#cs), acknowledgements and no-ack mode, escapes (binary X packets),
 * run-length encoded replies, hex, and the command table. It knows nothing
 * of CPUs or VMX: a target (the hypervisor's stub in hv/gdbstub/stub*.c, a
 * host mock in tests/) answers through struct rsp_target_ops. Compiles
 * unchanged into the hypervisor, the host unit tests and the fuzz target
 * (no libc beyond what hv/include/string.h offers, no allocation, no
 * recursion, bounded work per input byte).
 *
 * Everything a host sends is hostile input: a malformed packet gets an
 * E-reply, an unknown one the empty reply, and nothing can overrun a
 * buffer or make the core wait.
 *
 * Threads: ids 1..nthreads (thread id = CPU index + 1). 0 and -1 in Hg/Hc
 * mean "any" / "all" as in the protocol.
 *
 * Stopped or running: until the target reports a stop (rsp_stopped), and
 * again after D/k, the core takes the target as running: `?` and 0x03
 * call ops->interrupt and the stop the target then reports answers `?`;
 * packets that read or change its state (g G p P m M X c s C S vCont Z z)
 * get E16. A target that is stopped from the start calls rsp_stopped()
 * right after rsp_init(). Hooks run inside rsp_input() and may call
 * rsp_stopped() and rsp_monitor_output(), never rsp_input(). (A single
 * step reported as RSP_STOP_HWBREAK or as plain signal 5 both work with
 * gdb 13's stepi: checked against the mock.) */
#ifndef HV_GDBSTUB_RSP_H
#define HV_GDBSTUB_RSP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest packet body either side sends (announced as PacketSize). */
#define RSP_PACKET_MAX 4096
/* Bytes of text per O packet: "O" + hex fits the packet size. */
#define RSP_O_CHUNK ((RSP_PACKET_MAX - 1) / 2)
#define RSP_MAX_THREADS 64

/* Registers in gdb's order (the `g` packet and the target description):
 * one table, hv/gdbstub/rsp_regs.def, generates both. */
enum rsp_reg {
#define RSP_REG(id, name, bits, type, group, feature) RSP_REG_##id,
#include "gdbstub/rsp_regs.def"
#undef RSP_REG
    RSP_NREGS
};
struct rsp_reg_info {
    const char *name;
    uint16_t bits;
    const char *type;       /* gdb type: int64, code_ptr, data_ptr, i387_ext, int32, ... */
    const char *group;      /* general, float, system, or NULL */
    const char *feature;    /* org.gnu.gdb.i386.core, ... */
};
extern const struct rsp_reg_info rsp_regs[RSP_NREGS];

/* The target description (target.xml), generated once from the table. */
const char *rsp_target_xml(size_t *len);

enum rsp_stop_reason {
    RSP_STOP_SIGNAL,        /* just the signal (Ctrl-C, another CPU's stop, fault) */
    RSP_STOP_SWBREAK,       /* INT3 planted by Z0 */
    RSP_STOP_HWBREAK,       /* DR execute breakpoint or single step */
    RSP_STOP_WATCH,         /* write watchpoint hit, addr = the watched address */
    RSP_STOP_RWATCH,
    RSP_STOP_AWATCH,
};
struct rsp_stop {
    int thread;             /* 1..nthreads: who stopped */
    uint8_t signal;         /* 5 SIGTRAP, 2 SIGINT, 11 SIGSEGV, 6 SIGABRT ... */
    enum rsp_stop_reason reason;
    uint64_t addr;          /* for the watch reasons */
};

/* One resume request (c, s, C, S, vCont). Per thread: what to do. */
enum rsp_action { RSP_ACT_NONE = 0, RSP_ACT_CONTINUE, RSP_ACT_STEP, RSP_ACT_STOP };
struct rsp_resume {
    enum rsp_action action[RSP_MAX_THREADS + 1];    /* [tid]; [0] unused */
    bool has_addr;                                  /* `c ADDR` / `s ADDR` */
    uint64_t addr;
};

/* Breakpoint types as in Z/z (Z0 software ... Z4 access watchpoint). */
enum rsp_bp_type { RSP_BP_SW = 0, RSP_BP_HW = 1, RSP_BP_WRITE = 2, RSP_BP_READ = 3,
                   RSP_BP_ACCESS = 4 };

struct rsp;

/* What the target answers. Every hook gets ctx. Return conventions:
 *   int hooks: 0 = done, RSP_UNSUPPORTED = send the empty reply,
 *   a positive errno-style number = send E<nn> (e.g. 14 EFAULT, 22 EINVAL,
 *   28 ENOSPC when no debug register is free). */
#define RSP_UNSUPPORTED (-1)
struct rsp_target_ops {
    int nthreads;                                   /* fixed at init */
    bool (*thread_alive)(void *ctx, int tid);
    /* Free text for qThreadExtraInfo (NUL-terminated, cut at cap). */
    void (*thread_extra)(void *ctx, int tid, char *buf, size_t cap);
    /* One register of thread tid, little endian, rsp_regs[reg].bits / 8
     * bytes. Returns 0, RSP_UNSUPPORTED (sent as "xx.." = unavailable in g,
     * E-reply in p) or an error. */
    int (*read_reg)(void *ctx, int tid, enum rsp_reg reg, uint8_t *val);
    int (*write_reg)(void *ctx, int tid, enum rsp_reg reg, const uint8_t *val);
    /* Memory as thread tid sees it. read_mem returns the number of bytes
     * read (a short count stops at the first unreadable byte; 0 = E14);
     * write_mem returns 0 or an error (nothing partial is reported). */
    size_t (*read_mem)(void *ctx, int tid, uint64_t addr, uint8_t *buf, size_t len);
    int (*write_mem)(void *ctx, int tid, uint64_t addr, const uint8_t *buf, size_t len);
    int (*breakpoint)(void *ctx, bool insert, enum rsp_bp_type type, uint64_t addr,
                      uint32_t kind);
    /* c/s/C/S/vCont: the target resumes; the core is then "running" until
     * the target calls rsp_stopped(). Returns 0 or an error (E-reply, still
     * stopped). */
    int (*resume)(void *ctx, const struct rsp_resume *r);
    /* 0x03 while running. */
    void (*interrupt)(void *ctx);
    /* `monitor ...`: the command text (NUL-terminated). Output goes through
     * rsp_monitor_output() while the hook runs; the core then sends OK (or
     * E<n> for a nonzero return, the empty reply for RSP_UNSUPPORTED). */
    int (*monitor)(void *ctx, struct rsp *r, const char *cmd);
    void (*detach)(void *ctx);      /* D: breakpoints removed, machine runs on */
    void (*kill)(void *ctx);        /* k: same as detach for a hypervisor */
};

/* Bytes out (already framed as $...#cs, acks, O packets). */
typedef void (*rsp_put_fn)(void *ctx, const uint8_t *bytes, size_t len);

struct rsp_stats {
    uint64_t packets, bad_checksum, malformed, unknown, naks_sent, retransmits,
             overlong, bytes_in, bytes_out;
};

struct rsp {
    const struct rsp_target_ops *ops;
    void *ctx;
    rsp_put_fn put;
    /* Input state machine. */
    int in_state;
    uint8_t in_buf[RSP_PACKET_MAX + 8];
    size_t in_len;
    uint8_t in_csum, in_csum_got;
    bool in_escape, in_overlong;
    /* The last packet sent, kept for '-' (retransmit) in ack mode. */
    uint8_t out_buf[RSP_PACKET_MAX * 2 + 8];
    size_t out_len;
    bool no_ack;
    bool running;               /* resumed, no stop reported yet */
    bool attached;              /* a packet arrived since init/detach */
    int g_thread, c_thread;     /* Hg / Hc: 0 any, -1 all, else tid */
    struct rsp_stop last_stop;
    bool have_stop;
    struct rsp_stats stats;
};

void rsp_init(struct rsp *r, const struct rsp_target_ops *ops, void *ctx, rsp_put_fn put);
/* Feed host bytes in any split; complete packets are answered from here
 * (the hooks run inside this call). */
void rsp_input(struct rsp *r, const uint8_t *bytes, size_t len);
/* The target stopped (after a resume, or on its own: a fault, break-in):
 * remembered for `?`; sent as a T packet if gdb is waiting for one. */
void rsp_stopped(struct rsp *r, const struct rsp_stop *s);
/* Text for gdb's console as O packets (monitor output; console text in
 * the raw transport while the target runs). */
void rsp_monitor_output(struct rsp *r, const char *text, size_t len);
void rsp_console_output(struct rsp *r, const char *text, size_t len);

#endif
