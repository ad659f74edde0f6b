#include "hostile.h"

/* ==== 9. memory: the footprint, addresses beyond RAM ================================ */
extern u64 boot_pml4[];
static u64 extra_pd[4][512] __attribute__((aligned(4096)));
static u32 extra_used;

/* The 1:1 map covers addr (2 MiB pages, uncached, below 512 GiB). */
static bool ensure_mapped(u64 addr)
{
	if (addr >> 39)
		return false;
	u64 *pdpt = (u64 *)(boot_pml4[0] & 0xffffffffff000ull);
	u64 gi = addr >> 30;
	if (!(pdpt[gi] & 1)) {
		if (extra_used == ARRAY_SIZE(extra_pd))
			return false;
		u64 *pd = extra_pd[extra_used++];
		for (u64 i = 0; i < 512; i++)
			pd[i] = (gi << 30) + (i << 21) + 0x9b;   /* P, RW, PWT, PCD, PS */
		pdpt[gi] = (u64)pd | 3;
		asm volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
	}
	return true;
}

static u64 ram_top(void)
{
	u64 top = 0;
	for (u32 i = 0; i < boot_info.mmap_count; i++) {
		const struct mmap_entry *e = mmap_get(i);
		if (e->type == 1 && e->base + e->len > top)
			top = e->base + e->len;
	}
	return top;
}

static void nothing_there(const char *rchk, const char *wchk, u64 addr)
{
	if (!ensure_mapped(addr)) {
		check_fail(rchk, "cannot map 0x%lx", addr);
		check_fail(wchk, "cannot map 0x%lx", addr);
		return;
	}
	u32 d = 0;
	u64 q = 0;
	int v1 = read32(addr, &d);
	int v2 = safe_read64(addr + 8, &q);
	check(rchk, v1 < 0 && v2 < 0 && d == 0xffffffffu && q == ~0ull,
	      "reads at 0x%lx: vector %d value 0x%x, vector %d value 0x%lx; want all ones",
	      addr, v1, d, v2, q);
	int w = write32(addr, 0x12345678);
	int w2 = safe_write64(addr + 8, 0x0123456789abcdefull);
	v1 = read32(addr, &d);
	v2 = safe_read64(addr + 8, &q);
	check(wchk, w < 0 && w2 < 0 && v1 < 0 && v2 < 0 && d == 0xffffffffu && q == ~0ull,
	      "writes at 0x%lx: vectors %d %d; read back 0x%x / 0x%lx (vectors %d %d); want no "
	      "fault and all ones", addr, w, w2, d, q, v1, v2);
}

void class_memory(void)
{
	u64 start, end;
	const char *fwhy;
	if (!hv.present) {
		check_need_hv("footprint_read_gp");
		check_need_hv("footprint_write_gp");
	} else {
		if (!hv_footprint(&start, &end, &fwhy)) {
			check_fail("footprint_read_gp", "%s", fwhy);
			check_fail("footprint_write_gp", "%s", fwhy);
		} else if (!ensure_mapped(start) || !ensure_mapped(end - 1)) {
			check_fail("footprint_read_gp", "cannot map [0x%lx, 0x%lx)", start, end);
			check_fail("footprint_write_gp", "cannot map [0x%lx, 0x%lx)", start, end);
		} else {
			u64 at[4] = { start, end - 8, start + ((end - start) / 2 & ~7ull),
				      start + (rnd_below(end - start) & ~7ull) };
			u32 bad = 0;
			char first[160] = "";
			for (u32 i = 0; i < 4; i++) {
				u64 x;
				int v = safe_read64(at[i], &x);
				if (!want_gp(v, "read") && !bad++)
					snprintf(first, sizeof(first), "0x%lx: %s", at[i], why);
			}
			check("footprint_read_gp", !bad, "%u reads of [0x%lx, 0x%lx) without #GP(0): "
			      "%s", bad, start, end, first);
			bad = 0;
			for (u32 i = 0; i < 4; i++) {
				int v = safe_write64(at[i], 0x5a5ac0dedeadbeefull);
				if (!want_gp(v, "write") && !bad++)
					snprintf(first, sizeof(first), "0x%lx: %s", at[i], why);
			}
			check("footprint_write_gp", !bad, "%u writes to [0x%lx, 0x%lx) without "
			      "#GP(0): %s", bad, start, end, first);
		}
	}
	u64 top = ram_top();
	u64 far = ((top + (1ull << 30)) + 0xfff) & ~0xfffull;
	if (far >= 0xc0000000ull && far < (1ull << 32))
		far += 1ull << 32;          /* not into the MMIO below 4 GiB */
	info("RAM ends at 0x%lx; trying 0x100000000 and 0x%lx", top, far);
	nothing_there("above_4g_reads_ones", "above_4g_writes_dropped", 1ull << 32);
	nothing_there("ram_top_1g_reads_ones", "ram_top_1g_writes_dropped", far);
	if (random_mode) {
		u64 r = (1ull << 32) + (rnd_below(4ull << 30) & ~0xfffull);
		nothing_there("random_high_reads_ones", "random_high_writes_dropped", r);
	}
}
