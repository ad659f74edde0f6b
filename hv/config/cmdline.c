/* GRUB command-line options. Unknown options and bad values are reported
 * and ignored: a typo must not stop the machine from booting. */
#include <string.h>
#include "console/console.h"
#include "config/config.h"
#include "trace/percpu_rings.h"
#include "trace/trace.h"

struct hv_config hv_config = {
    .baud = 115200, .data_bits = 8, .stop_bits = 1, .parity = 'n',
    .uart_port = 0x3f8, .serial_mode = SERIAL_FRAMED,
    .selftest = SELFTEST_NONE, .quiesce_report_ms = 2000,
    .lapic_trap = true,
    .lapic_emulate = true,
    .heap_bytes = 16ull << 20, .boot_drive = 0x80,
};

static const struct { const char *name; uint64_t bit; } trace_class_names[] = {
#define TRACE_CLASS(bit, name, desc) { #name, 1ull << (bit) },
#define TRACE_EVENT(id, name, cls, ...)
#include "trace/events.def"
#undef TRACE_CLASS
#undef TRACE_EVENT
};

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    unsigned base = 10;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        n -= 2;
    }
    if (!n)
        return false;
    for (; n; s++, n--) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else if (n == 1 && (*s == 'M' || *s == 'K')) {
            v <<= *s == 'M' ? 20 : 10;
            break;
        } else
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

static bool is(const char *v, size_t n, const char *word)
{
    return strlen(word) == n && !strncmp(v, word, n);
}

/* serial=BAUD[,8n1[,PORT]] */
static bool parse_serial(const char *v, size_t n)
{
    const char *comma = memchr(v, ',', n);
    uint64_t baud, port = hv_config.uart_port;
    size_t blen = comma ? (size_t)(comma - v) : n;
    if (!parse_u64(v, blen, &baud) || baud < 50 || baud > 115200 || 115200 % baud)
        return false;
    if (comma) {
        const char *f = comma + 1;
        size_t rest = n - blen - 1;
        if (rest < 3 || f[0] < '5' || f[0] > '8' ||
            !strchr("neo", f[1]) || (f[2] != '1' && f[2] != '2'))
            return false;
        hv_config.data_bits = f[0] - '0';
        hv_config.parity = f[1];
        hv_config.stop_bits = f[2] - '0';
        if (rest > 3) {
            if (f[3] != ',' || !parse_u64(f + 4, rest - 4, &port) || port > 0xfff8)
                return false;
        }
    }
    hv_config.baud = baud;
    hv_config.uart_port = port;
    return true;
}

/* A class list (trace=, flight=): names from events.def, "all", "none". */
static bool parse_classes(const char *v, size_t n, uint64_t *out)
{
    uint64_t mask = 0;
    while (n) {
        const char *comma = memchr(v, ',', n);
        size_t len = comma ? (size_t)(comma - v) : n;
        bool found = false;
        if (is(v, len, "all")) {
            mask = ~0ull;
            found = true;
        } else if (is(v, len, "none")) {
            found = true;
        }
        for (size_t i = 0; !found && i < sizeof(trace_class_names) / sizeof(trace_class_names[0]); i++)
            if (is(v, len, trace_class_names[i].name)) {
                mask |= trace_class_names[i].bit;
                found = true;
            }
        if (!found) {
            printf("hv: trace class '%.*s' unknown; known:", (int)len, v);
            for (size_t i = 0; i < sizeof(trace_class_names) / sizeof(trace_class_names[0]); i++)
                printf(" %s", trace_class_names[i].name);
            printf("\n");
            return false;
        }
        if (!comma)
            break;
        n -= len + 1;
        v = comma + 1;
    }
    *out = mask;
    return true;
}

/* flight= (or flight_recorder=) was given: trace_drain=block then keeps
 * it instead of streaming every class. */
static bool flight_given;

static bool parse_flight(const char *v, size_t n)
{
    uint64_t mask;
    if (!parse_classes(v, n, &mask))
        return false;
    trace_settings.flight_classes = mask & ~1ull;   /* console text is never held */
    flight_given = true;
    return true;
}

/* Options whose value is one of a few words, each standing for a value. */
struct choice { const char *word; int value; };

static bool choose(const char *v, size_t vn, const struct choice *c, int *out)
{
    for (; c->word; c++)
        if (is(v, vn, c->word)) {
            *out = c->value;
            return true;
        }
    return false;
}

#define CHOICE_INTO(key, lvalue, ...)                                           \
    if (is(k, kn, key)) {                                                       \
        static const struct choice words[] = { __VA_ARGS__, { NULL, 0 } };      \
        int x;                                                                  \
        if (!choose(v, vn, words, &x))                                          \
            return false;                                                       \
        lvalue = x;                                                             \
        return true;                                                            \
    }
#define CHOICE(key, field, ...) CHOICE_INTO(key, hv_config.field, __VA_ARGS__)

static bool apply(const char *k, size_t kn, const char *v, size_t vn)
{
    uint64_t x;
    if (is(k, kn, "serial"))
        return parse_serial(v, vn);
    CHOICE("serial_mode", serial_mode, { "framed", SERIAL_FRAMED }, { "plain", SERIAL_PLAIN })
    if (is(k, kn, "selftest")) {
        static const char *const kinds[SELFTEST_COUNT] = {
            "none", "ud", "pf", "gp", "nmi", "df", "storm", "storm_guest",
            "quiesce", "quiesce_stuck", "crypto"
        };
        for (int i = 0; i < SELFTEST_COUNT; i++)
            if (is(v, vn, kinds[i])) {
                hv_config.selftest = i;
                return true;
            }
        return false;
    }
    if (is(k, kn, "trace")) {
        if (!parse_classes(v, vn, &x))
            return false;
        trace_set_classes(x);   /* console text stays on */
        return true;
    }
    if (is(k, kn, "flight"))
        return parse_flight(v, vn);
    CHOICE("x2apic_hint", x2apic_hint, { "none", X2APIC_HINT_NONE }, { "kvm", X2APIC_HINT_KVM })
    CHOICE("lapic_trap", lapic_trap, { "on", 1 }, { "off", 0 })
    CHOICE("lapic_emulate", lapic_emulate, { "on", 1 }, { "off", 0 })
    CHOICE("lapic_step", lapic_step, { "auto", LAPIC_STEP_AUTO }, { "mtf", LAPIC_STEP_MTF },
           { "tf", LAPIC_STEP_TF })
    if (is(k, kn, "quiesce_report_ms")) {
        uint64_t ms;
        if (!parse_u64(v, vn, &ms) || ms == 0 || ms > 600000)
            return false;
        hv_config.quiesce_report_ms = ms;
        return true;
    }
    CHOICE_INTO("trace_policy", trace_settings.policy, { "drop", RING_DROP_NEWEST },
                { "overwrite", RING_OVERWRITE })
    CHOICE("trace_drain", trace_drain_block, { "stream", 0 }, { "block", 1 })
    /* The older all-or-nothing switch: on = flight=all, off = flight=none. */
    if (is(k, kn, "flight_recorder")) {
        if (is(v, vn, "1") || is(v, vn, "on"))
            return parse_flight("all", 3);
        if (is(v, vn, "0") || is(v, vn, "off"))
            return parse_flight("none", 4);
        return false;
    }
    if (is(k, kn, "hv_mem")) {
        if (!parse_u64(v, vn, &x) || x < (4ull << 20) || x > (1ull << 30))
            return false;
        hv_config.heap_bytes = x;
        return true;
    }
    if (is(k, kn, "boot_drive")) {
        if (!parse_u64(v, vn, &x) || x > 0xff)
            return false;
        hv_config.boot_drive = x;
        return true;
    }
    CHOICE("guest", no_guest, { "none", 1 }, { "boot", 0 })
    CHOICE("on_triple_fault", triple_fault_park, { "reset", 0 }, { "park", 1 })
    CHOICE("gdb", gdb, { "off", GDB_OFF }, { "on", GDB_ON }, { "wait", GDB_WAIT },
           { "raw", GDB_RAW }, { "raw-wait", GDB_RAW_WAIT })
    CHOICE("guest_serial", guest_serial_passthrough, { "mux", 0 }, { "passthrough", 1 })
    if (is(k, kn, "vmx_corrupt")) {
        if (vn == 0 || vn >= sizeof(hv_config.vmx_corrupt))
            return false;
        memcpy(hv_config.vmx_corrupt, v, vn);
        hv_config.vmx_corrupt[vn] = 0;
        return true;
    }
    printf("hv: unknown option '%.*s' ignored\n", (int)kn, k);
    return true;
}

void cmdline_parse(const char *cmdline)
{
    const char *s = cmdline;
    while (*s) {
        while (*s == ' ')
            s++;
        const char *word = s;
        while (*s && *s != ' ')
            s++;
        size_t wn = s - word;
        if (!wn)
            continue;
        const char *eq = memchr(word, '=', wn);
        if (!eq) {
            printf("hv: option '%.*s' needs a value (key=value); ignored\n", (int)wn, word);
            continue;
        }
        size_t kn = eq - word;
        if (!apply(word, kn, eq + 1, wn - kn - 1))
            printf("hv: bad value in '%.*s'; default kept\n", (int)wn, word);
    }
    /* trace_drain=block asks for everything, losslessly, on the line. */
    if (hv_config.trace_drain_block && !flight_given)
        trace_settings.flight_classes = 0;
}
