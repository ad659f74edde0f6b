#include <stdint.h>
#include "cpu/idt.h"
#include <percpu.h>

struct idt_gate {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

extern const uint64_t isr_table[256];
static struct idt_gate idt[256] __attribute__((aligned(16)));

void idt_init(void)
{
    for (int v = 0; v < 256; v++) {
        uint64_t a = isr_table[v];
        idt[v] = (struct idt_gate){
            .off_lo = a & 0xffff, .sel = 0x08, .ist = 0, .type = 0x8e,
            .off_mid = (a >> 16) & 0xffff, .off_hi = a >> 32, .zero = 0,
        };
    }
    idt[VEC_NMI].ist = IST_NMI;
    idt[VEC_DF].ist = IST_DF;
    idt[VEC_MC].ist = IST_MC;
}

void idt_load(void)
{
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = {
        sizeof(idt) - 1, (uint64_t)idt
    };
    __asm__ volatile("lidt %0" :: "m"(idtr));
}
