/* The VMCS field table (hv/vmx/vmcs_fields.def) against the SDM's rules, and
 * the typed accessors of vmcs.h against a simulated VMCS: every declared
 * width must equal the width the encoding itself declares (bits 14:13), no
 * encoding may appear twice, 64-bit fields use the "full" encoding, and a
 * typed write to one field must never change another (seed 001, "vmwrite in
 * 64-bit": a 32-bit read stored 64 bits over its neighbour). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vmx/vmcs.h"

static const struct vmcs_field_info table[] = {
#define VMCS_FIELD(name, enc, w, group) { (enc), w, #name, #group },
#include "vmx/vmcs_fields.def"
#undef VMCS_FIELD
};
#define NFIELDS (sizeof(table) / sizeof(table[0]))

/* A simulated VMCS with the hardware's semantics: a field holds exactly
 * its width; reads zero-extend. */
static uint64_t store[0x8000];
static int failures;

static uint64_t width_mask(enum vmcs_width w)
{
    return w == W16 ? 0xffff : w == W32 ? 0xffffffffull : ~0ull;
}

uint64_t vmcs_read_checked(uint32_t enc, const char *name)
{
    (void)name;
    return store[enc] & width_mask(vmcs_encoding_width(enc));
}

bool vmcs_write_checked(uint32_t enc, const char *name, uint64_t value, uint64_t max)
{
    (void)name;
    if (value > max)
        return false;
    store[enc] = value & width_mask(vmcs_encoding_width(enc));
    return true;
}

#define CHECK(cond, ...) do { if (!(cond)) { printf("FAIL: " __VA_ARGS__); printf("\n"); failures++; } } while (0)

static void check_table(void)
{
    for (unsigned i = 0; i < NFIELDS; i++) {
        const struct vmcs_field_info *f = &table[i];
        CHECK(vmcs_encoding_width(f->encoding) == f->width,
              "%s: declared width %d but encoding %#x says %d", f->name, f->width,
              f->encoding, vmcs_encoding_width(f->encoding));
        CHECK(!(f->encoding & 1), "%s: %#x is a 'high' access encoding", f->name, f->encoding);
        CHECK(!(f->encoding & (1u << 12)), "%s: bit 12 of %#x is reserved", f->name, f->encoding);
        CHECK((f->encoding & 0x8000) == 0, "%s: bit 15 must be 0", f->name);
        /* type 1 (bits 11:10) = read-only exit information */
        bool ro = ((f->encoding >> 10) & 3) == 1;
        CHECK(ro == !strcmp(f->group, "RO"), "%s: group %s disagrees with type bits of %#x",
              f->name, f->group, f->encoding);
        for (unsigned j = i + 1; j < NFIELDS; j++)
            CHECK(table[j].encoding != f->encoding, "%s and %s share encoding %#x",
                  f->name, table[j].name, f->encoding);
    }
}

static void check_accessor_types(void)
{
    CHECK(sizeof(vmcs_read(VPID)) == 2, "VPID read is not 16-bit");
    CHECK(sizeof(vmcs_read(PIN_CONTROLS)) == 4, "PIN_CONTROLS read is not 32-bit");
    CHECK(sizeof(vmcs_read(EXIT_REASON)) == 4, "EXIT_REASON read is not 32-bit");
    CHECK(sizeof(vmcs_read(EPT_POINTER)) == 8, "EPT_POINTER read is not 64-bit");
    CHECK(sizeof(vmcs_read(GUEST_RIP)) == 8, "GUEST_RIP read is not natural width");
    CHECK(!vmcs_write(GUEST_CS_SEL, 0x10000), "a 17-bit value went into a 16-bit field");
    CHECK(!vmcs_write(PIN_CONTROLS, 0x100000000ull), "a 33-bit value went into a 32-bit field");
}

/* Write every field with a distinct all-ones-ish pattern through the typed
 * layer's primitive, then check each reads back as its own value only. */
static void check_no_clobber(void)
{
    memset(store, 0, sizeof(store));
    for (unsigned i = 0; i < NFIELDS; i++) {
        uint64_t pattern = 0x0101010101010101ull * (i + 1);
        vmcs_write_checked(table[i].encoding, table[i].name,
                           pattern & width_mask(table[i].width), width_mask(table[i].width));
    }
    for (unsigned i = 0; i < NFIELDS; i++) {
        uint64_t want = (0x0101010101010101ull * (i + 1)) & width_mask(table[i].width);
        uint64_t got = vmcs_read_checked(table[i].encoding, table[i].name);
        CHECK(got == want, "%s reads %#llx, wrote %#llx", table[i].name,
              (unsigned long long)got, (unsigned long long)want);
    }
    /* A typed 32-bit read assigned to a 32-bit variable next to others. */
    struct { uint32_t a, b, c; } s = { 1, 2, 3 };
    vmcs_write(PIN_CONTROLS, 0xdeadbeef);
    s.b = vmcs_read(PIN_CONTROLS);
    CHECK(s.a == 1 && s.b == 0xdeadbeef && s.c == 3, "typed read clobbered a neighbour");
}

int main(void)
{
    check_table();
    check_accessor_types();
    check_no_clobber();
    printf("%u VMCS fields checked, %d failures\n", (unsigned)NFIELDS, failures);
    return failures ? 1 : 0;
}
