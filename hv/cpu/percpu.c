#include <percpu.h>
#include <x86.h>
#include <string.h>

struct percpu percpu_table[MAX_CPUS];
uint32_t cpu_count = 1;

void percpu_bind(struct percpu *p)
{
    p->self = p;
    wrmsr(MSR_IA32_GS_BASE, (uint64_t)p);
}

bool percpu_on_stack(const struct percpu *p, uint64_t addr, uint64_t len)
{
    uint64_t end = addr + len;
    if (end < addr)
        return false;
    if (p->stack_base && addr >= (uint64_t)p->stack_base &&
        end <= (uint64_t)p->stack_base + STACK_SIZE)
        return true;
    if (p->exit_stack_base && addr >= (uint64_t)p->exit_stack_base &&
        end <= (uint64_t)p->exit_stack_base + 16 * 1024)
        return true;
    for (int i = 1; i < 4; i++)
        if (p->ist_base[i] && addr >= (uint64_t)p->ist_base[i] &&
            end <= (uint64_t)p->ist_base[i] + IST_STACK_SIZE)
            return true;
    return false;
}
