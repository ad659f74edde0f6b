/* trustvisor_pal: calling PALs (abi/tvabi.h). A PAL that adds its two
 * integer parameters into an in/out pointer parameter and counts its calls
 * in its own DATA page is called twice: results, pointer marshalled in and
 * out, its data kept between calls, the caller's callee-saved registers
 * and RFLAGS.IF intact, its pages still refused to the guest between
 * calls. A bad PAL reads outside its sections, writes its own code,
 * raises #UD and loops for ever: each call comes back with
 * TV_ERR_PAL_FAULT, the caller's registers intact, and the PAL can be
 * called again and unregistered. SHARE: every bad input refused with its
 * code and nothing changed; a page lent to a PAL is refused to the guest,
 * the PAL reads it and writes it, and after UNREG the caller finds what
 * the PAL wrote (not scrubbed). With PCIDs (CR4.PCIDE), the adding PAL
 * is registered under PCID 1, called under 2 and unregistered under 3, as
 * Linux's per-CPU PCIDs do to a process. Judged by what this guest
 * measures. */
#include "tvpal.h"
#include "tvabi.h"

#define PG 4096

/* ---- the PALs: position-independent, code page then data page ---------- */
__asm__(
	".pushsection .rodata.tvpal, \"a\"\n"
	".balign 4096\n"
	".globl tvp_template, tvp_add, tvp_bad\n"
	"tvp_template:\n"
	"tvp_add:\n"                    /* rdi a, rsi b, rdx io (PARAM copy) */
	"	push %rbx\n"
	"	lea (%rdi,%rsi), %rax\n"
	"	add %rax, (%rdx)\n"
	"	incq tvp_count(%rip)\n"
	"	mov tvp_count(%rip), %rbx\n"
	"	mov %rbx, 8(%rdx)\n"
	"	pop %rbx\n"
	"	ret\n"
	"tvp_bad:\n"                    /* rdi mode, rsi address */
	"	cmp $1, %rdi\n	je 1f\n"
	"	cmp $2, %rdi\n	je 2f\n"
	"	cmp $3, %rdi\n	je 3f\n"
	"	cmp $4, %rdi\n	je 4f\n"
	"	cmp $5, %rdi\n	je 5f\n"
	"	cmp $6, %rdi\n	je 6f\n"
	"	mov (%rsi), %rax\n	ret\n"
	"1:	movb $0, tvp_template(%rip)\n	ret\n"
	"2:	xor %ebx, %ebx\n	xor %r12d, %r12d\n	ud2\n"
	"3:	jmp 3b\n"
	"4:	mov $77, %eax\n	ret\n"
	"5:	lea tvp_count(%rip), %rax\n	jmp *%rax\n"
	"6:	mov (%rsi), %rax\n	lea 1(%rax,%rax), %rcx\n	mov %rcx, 8(%rsi)\n	ret\n"
	".balign 4096\n"
	"tvp_count: .quad 0\n"
	".balign 4096\n"
	".popsection\n"
	".pushsection .text\n"
	".globl tvp_call\n"
	"tvp_call:\n"                   /* rdi entry, rsi a, rdx b, rcx c */
	"	push %rbx\n	push %rbp\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
	"	mov %rdi, %rax\n	mov %rsi, %rdi\n	mov %rdx, %rsi\n	mov %rcx, %rdx\n"
	"	movabs $0x1111111111111111, %rbx\n	movabs $0x2222222222222222, %rbp\n"
	"	movabs $0x3333333333333333, %r12\n	movabs $0x4444444444444444, %r13\n"
	"	movabs $0x5555555555555555, %r14\n	movabs $0x6666666666666666, %r15\n"
	"	sub $8, %rsp\n"
	"	call *%rax\n"
	"	add $8, %rsp\n"
	"	xor %ecx, %ecx\n"
	"	movabs $0x1111111111111111, %rdx\n	cmp %rdx, %rbx\n	setne %dl\n	or %dl, %cl\n"
	"	movabs $0x2222222222222222, %rdx\n	cmp %rdx, %rbp\n	setne %dl\n	or %dl, %cl\n"
	"	movabs $0x3333333333333333, %rdx\n	cmp %rdx, %r12\n	setne %dl\n	or %dl, %cl\n"
	"	movabs $0x4444444444444444, %rdx\n	cmp %rdx, %r13\n	setne %dl\n	or %dl, %cl\n"
	"	movabs $0x5555555555555555, %rdx\n	cmp %rdx, %r14\n	setne %dl\n	or %dl, %cl\n"
	"	movabs $0x6666666666666666, %rdx\n	cmp %rdx, %r15\n	setne %dl\n	or %dl, %cl\n"
	"	mov %ecx, tvp_regs_bad(%rip)\n"
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbp\n	pop %rbx\n"
	"	ret\n"
	".popsection\n");

volatile u32 tvp_regs_bad;
static u8 pal_mem[2 * PG] __attribute__((aligned(PG)));
static u8 pal_stack[PG] __attribute__((aligned(PG)));
static u8 pal_param[PG] __attribute__((aligned(PG)));
static struct tv_pal_sections secs;
static struct tv_pal_params params;
static u64 outside = 0x0123456789abcdefull;

static u32 tv_call(u32 cmd, u64 rcx, u64 rsi, u64 rdi)
{
	struct vmcall_regs r = { .rax = cmd, .rcx = rcx, .rsi = rsi, .rdi = rdi };
	return vmcall_regs(&r) < 0 ? (u32)r.rax : 0xdeadbeef;
}

static u64 rflags_now(void)
{
	u64 f;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

/* CODE and DATA from the template, STACK, PARAM; the given parameters. */
static u32 reg_pal(u64 entry_off, u32 nparams, const u32 *types, const u64 *sizes)
{
	tvp_sections(&secs, pal_mem, pal_stack, pal_param);
	params = (struct tv_pal_params){ .num_params = nparams };
	for (u32 i = 0; i < nparams; i++)
		params.params[i] = (struct tv_pal_param){ types[i], 0, sizes[i] };
	return tv_call(TV_HC_REG, (u64)&secs, (u64)&params, (u64)pal_mem + entry_off);
}

/* CR3's PCID (bits 11:0 with CR4.PCIDE): Linux gives a process another one
 * on each CPU; TrustVisor must know the process by CR3's frame. */
static bool pcid_on;

static void set_pcid(u64 id)
{
	u64 cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	if (pcid_on || !id)
		__asm__ volatile("mov %0, %%cr3" : : "r"((cr3 & ~0xfffull) | id) : "memory");
}

static void pcid_enable(bool on)
{
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 17))) {
		info("trustvisor_pal: the CPU has no PCID: the PAL's CR3 stays PCID-free");
		return;
	}
	if (!on) {
		set_pcid(0);
		safe_write_cr4(read_cr4() & ~(1ull << 17));
		pcid_on = false;
		return;
	}
	set_pcid(0);
	int v = safe_write_cr4(read_cr4() | (1ull << 17));
	pcid_on = v < 0;
	check("pcid_on", pcid_on, "setting CR4.PCIDE raised vector %d", v);
}

/* Another process: the same memory through page tables of its own (this
 * PML4 copied to another frame, so CR3 differs). Its call of the PAL's
 * entry is refused like any access to PAL memory (#GP at the entry; the
 * hook below returns from the call instead), and for it there is no such
 * PAL to UNREG or SHARE with (TV_ERR_ENTRY); nothing changes for the
 * registering process. */
static u64 other_pml4[512] __attribute__((aligned(PG)));
static u8 other_lend[PG] __attribute__((aligned(PG)));
static volatile u64 gp_expect, gp_seen;

static bool gp_returns(struct trap_frame *f)
{
	if (f->rip != gp_expect)
		return false;
	gp_seen = f->rip;
	f->rip = *(u64 *)f->rsp;        /* the call's return address */
	f->rsp += 8;
	f->rax = 0xbad;
	return true;
}

static void other_process(u64 entry)
{
	u64 cr3, io[2] = { 0, 0 };
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	memcpy(other_pml4, (void *)(cr3 & ~0xfffull), PG);
	gp_expect = entry, gp_seen = 0;
	trap_set_hook(13, gp_returns);
	__asm__ volatile("mov %0, %%cr3" : : "r"((u64)other_pml4 | (pcid_on ? 4 : 0)) : "memory");
	u64 r = tvp_call(entry, 1, 1, (u64)io);
	u32 unreg = tv_call(TV_HC_UNREG, entry, 0, 0);
	static u64 addr, len = PG;
	addr = (u64)other_lend;
	struct vmcall_regs sr = { .rax = TV_HC_SHARE, .rcx = entry, .rdx = (u64)&addr,
				  .rsi = (u64)&len, .rdi = 1 };
	u32 sh = vmcall_regs(&sr) < 0 ? (u32)sr.rax : 0xdeadbeef;
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
	trap_set_hook(13, NULL);
	check("other_process_refused", r == 0xbad && gp_seen == entry && io[0] == 0 &&
	      unreg == TV_ERR_ENTRY && sh == TV_ERR_ENTRY, "from another CR3: the call returned "
	      "0x%lx with #GP seen at 0x%lx (want 0xbad at 0x%lx), UNREG 0x%x, SHARE 0x%x (want "
	      "0x%x)", r, gp_seen, entry, unreg, sh, TV_ERR_ENTRY);
}

static void good_pal(void)
{
	static const u32 types[] = { TV_PAL_PM_INTEGER, TV_PAL_PM_INTEGER, TV_PAL_PM_POINTER };
	static const u64 sizes[] = { 8, 8, 16 };
	u64 entry = (u64)pal_mem + TVP_OFF(tvp_add);
	pcid_enable(true);
	set_pcid(1);
	u32 rc = reg_pal(TVP_OFF(tvp_add), 3, types, sizes);
	check("reg_add", rc == TV_OK, "REG of the adding PAL gave eax=0x%x", rc);
	if (rc != TV_OK) {
		pcid_enable(false);
		return;
	}
	set_pcid(2);
	static u64 io[2];
	io[0] = 100, io[1] = 0;
	u64 if_before = rflags_now() & 0x200;
	u64 r = tvp_call(entry, 2, 3, (u64)io);
	check("call_add", r == 5 && io[0] == 105 && io[1] == 1,
	      "PAL(2, 3, {100, 0}) returned %lu, io {%lu, %lu}; want 5, {105, 1}", r, io[0], io[1]);
	check("call_regs_kept", !tvp_regs_bad, "callee-saved registers changed (0x%x)",
	      tvp_regs_bad);
	check("call_if_kept", (rflags_now() & 0x200) == if_before, "RFLAGS.IF changed: 0x%lx",
	      rflags_now() & 0x200);
	io[0] = 1000, io[1] = 7;
	r = tvp_call(entry, 40, 2, (u64)io);
	check("call_add_again", r == 42 && io[0] == 1042 && io[1] == 2,
	      "PAL(40, 2, {1000, 7}) returned %lu, io {%lu, %lu}; want 42, {1042, 2} (its DATA "
	      "counts calls)", r, io[0], io[1]);
	u64 val;
	int v = safe_read64((u64)pal_mem + PG, &val);
	check("pal_data_still_refused", v == 13, "after calls a read of its DATA gave vector %d, "
	      "want #GP", v);
	other_process(entry);
	io[0] = 0, io[1] = 0;
	r = tvp_call(entry, 1, 1, (u64)io);
	check("call_after_other_process", r == 2 && io[0] == 2 && io[1] == 3,
	      "PAL(1, 1, {0, 0}) back in its process returned %lu, io {%lu, %lu}; want 2, {2, 3}",
	      r, io[0], io[1]);
	set_pcid(3);
	rc = tv_call(TV_HC_UNREG, entry, 0, 0);
	check("unreg_add", rc == TV_OK, "UNREG gave eax=0x%x", rc);
	pcid_enable(false);
}

static void bad_pal(void)
{
	static const u32 types[] = { TV_PAL_PM_INTEGER, TV_PAL_PM_INTEGER };
	static const u64 sizes[] = { 8, 8 };
	static const struct { const char *chk, *what; } modes[] = {
		{ "fault_read_outside", "read outside its sections" },
		{ "fault_write_code", "write to its CODE" },
		{ "fault_ud", "#UD after clobbering RBX/R12" },
		{ "fault_time_limit", "endless loop" },
		{ "fault_exec_data", "jump into its DATA (EPT: not executable)" },
	};
	u64 entry = (u64)pal_mem + TVP_OFF(tvp_bad);
	u32 rc = reg_pal(TVP_OFF(tvp_bad), 2, types, sizes);
	check("reg_bad", rc == TV_OK, "REG of the bad PAL gave eax=0x%x", rc);
	if (rc != TV_OK)
		return;
	for (u32 m = 0; m < ARRAY_SIZE(modes); m++) {
		u64 r = tvp_call(entry, m == 4 ? 5 : m, (u64)&outside, 0);
		check(modes[m].chk, r == TV_ERR_PAL_FAULT && !tvp_regs_bad,
		      "a PAL's %s: the call returned 0x%lx (want 0x%x), registers %s",
		      modes[m].what, r, TV_ERR_PAL_FAULT, tvp_regs_bad ? "changed" : "kept");
	}
	u64 r = tvp_call(entry, 4, 0, 0);
	check("call_after_faults", r == 77, "the PAL after its faults returned %lu, want 77", r);
	rc = tv_call(TV_HC_UNREG, entry, 0, 0);
	check("unreg_bad", rc == TV_OK, "UNREG gave eax=0x%x", rc);
}

/* ---- SHARE ---------------------------------------------------------------- */
static u8 shared[2 * PG] __attribute__((aligned(PG)));
static u8 other_code[PG] __attribute__((aligned(PG)));
static u64 sh_addr[TV_MAX_SECTIONS + 1], sh_len[TV_MAX_SECTIONS + 1];

static u32 share(u64 entry, u32 n)
{
	struct vmcall_regs r = { .rax = TV_HC_SHARE, .rcx = entry, .rdx = (u64)sh_addr,
				 .rsi = (u64)sh_len, .rdi = n };
	return vmcall_regs(&r) < 0 ? (u32)r.rax : 0xdeadbeef;
}

/* One range (a, l), or two, SHARE'd: want the given code. */
static void share_expect(const char *chk, u64 entry, u64 a, u64 l, u64 a2, u64 l2, u32 n,
			 u32 want)
{
	sh_addr[0] = a, sh_len[0] = l, sh_addr[1] = a2, sh_len[1] = l2;
	u32 rc = share(entry, n);
	check(chk, rc == want, "SHARE(%u: 0x%lx+0x%lx, 0x%lx+0x%lx) gave 0x%x, want 0x%x", n, a, l,
	      a2, l2, rc, want);
}

/* A read-only alias of `frame` just above the identity map (boot.S maps
 * everything writable): PDPT[4] -> ro_pd -> ro_pt -> the frame, present,
 * not writable. `on` false takes it away again (PDPT[4] not present, as
 * the other scenarios expect above 4 GiB). */
static u64 ro_pd[512] __attribute__((aligned(PG))), ro_pt[512] __attribute__((aligned(PG)));

static u64 ro_alias(u64 frame, bool on)
{
	u64 cr3, va = IDENTITY_MAP_END + (8ull << 20);
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	u64 *pml4 = (u64 *)(cr3 & ~0xfffull);
	u64 *pdpt = (u64 *)(pml4[0] & 0x000ffffffffff000ull);
	ro_pt[(va >> 12) & 511] = frame | 1;                /* present, read-only */
	ro_pd[(va >> 21) & 511] = (u64)ro_pt | 3;
	pdpt[(va >> 30) & 511] = on ? (u64)ro_pd | 3 : 0;
	__asm__ volatile("invlpg (%0)" :: "r"(va) : "memory");
	return va;
}

/* Every refusal leaves the PAL and the pages as they were (checked by the
 * good SHARE after them and the reads of the page). */
static void share_refused(u64 entry, u64 sh)
{
	u64 other = (u64)other_code;
	share_expect("share_unknown_pal", entry + 1, sh, PG, 0, 0, 1, TV_ERR_ENTRY);
	share_expect("share_unaligned_addr", entry, sh + 8, PG, 0, 0, 1, TV_ERR_SECTION_ALIGN);
	share_expect("share_unaligned_len", entry, sh, 100, 0, 0, 1, TV_ERR_SECTION_ALIGN);
	share_expect("share_zero_len", entry, sh, 0, 0, 0, 1, TV_ERR_SECTION_SIZE);
	share_expect("share_zero_count", entry, sh, PG, 0, 0, 0, TV_ERR_SECTION_SIZE);
	share_expect("share_too_many_pages", entry, sh, 33 * PG, 0, 0, 1, TV_ERR_SECTION_SIZE);
	share_expect("share_count_over_max", entry, sh, PG, 0, 0, TV_MAX_SECTIONS + 1,
		     TV_ERR_TOO_MANY);
	/* 4 sections registered: 7 more ranges make 11 (the count is checked
	 * before the ranges). */
	for (u32 i = 0; i < 7; i++)
		sh_addr[i] = sh, sh_len[i] = PG;
	u32 rc = share(entry, 7);
	check("share_too_many_sections", rc == TV_ERR_TOO_MANY, "SHARE of 7 ranges beside 4 "
	      "sections gave 0x%x, want 0x%x", rc, TV_ERR_TOO_MANY);
	share_expect("share_overlap_each_other", entry, sh, 2 * PG, sh + PG, PG, 2,
		     TV_ERR_SECTION_OVERLAP);
	share_expect("share_overlap_own_section", entry, (u64)pal_stack, PG, 0, 0, 1,
		     TV_ERR_SECTION_OVERLAP);
	/* The first range's page found, the second's not: neither lent. */
	share_expect("share_all_or_nothing", entry, sh, PG, IDENTITY_MAP_END + 0x10000, PG, 2,
		     TV_ERR_SECTION_UNMAPPED);
	share_expect("share_unmapped", entry, IDENTITY_MAP_END + 0x10000, PG, 0, 0, 1,
		     TV_ERR_SECTION_UNMAPPED);
	struct vmcall_regs r = { .rax = TV_HC_SHARE, .rcx = entry, .rdx = 0xFFFFFFFFF000ull,
				 .rsi = (u64)sh_len, .rdi = 1 };
	rc = vmcall_regs(&r) < 0 ? (u32)r.rax : 0xdeadbeef;
	check("share_bad_array", rc == TV_ERR_BAD_PARAM, "SHARE with its address array "
	      "unmapped gave 0x%x, want 0x%x", rc, TV_ERR_BAD_PARAM);
	/* Another PAL's page. */
	memset(other_code, 0xc3, PG);
	secs = (struct tv_pal_sections){ .num_sections = 1 };
	secs.sections[0] = (struct tv_pal_section){ TV_PAL_SECTION_CODE, 1, other };
	rc = tv_call(TV_HC_REG, (u64)&secs, 0, other);
	check("share_other_reg", rc == TV_OK, "REG of a second PAL gave 0x%x", rc);
	share_expect("share_other_pals_page", entry, other, PG, 0, 0, 1, TV_ERR_ALREADY);
	rc = tv_call(TV_HC_UNREG, other, 0, 0);
	check("share_other_unreg", rc == TV_OK, "UNREG of the second PAL gave 0x%x", rc);
	/* A page the caller may read but not write: refused to SHARE and to
	 * REG (a DATA section there) alike. */
	u64 ro = ro_alias(sh + PG, true), seen;
	int rv = safe_read64(ro, &seen), wv = safe_write64(ro, 1);
	check("ro_alias_reads", rv < 0 && seen == 0 && wv == 14, "the read-only alias: read "
	      "vector %d value 0x%lx, write vector %d; want none, 0, #PF", rv, seen, wv);
	share_expect("share_readonly", entry, ro, PG, 0, 0, 1, TV_ERR_SECTION_READONLY);
	secs = (struct tv_pal_sections){ .num_sections = 2 };
	secs.sections[0] = (struct tv_pal_section){ TV_PAL_SECTION_CODE, 1, other };
	secs.sections[1] = (struct tv_pal_section){ TV_PAL_SECTION_DATA, 1, ro };
	rc = tv_call(TV_HC_REG, (u64)&secs, 0, other);
	check("reg_readonly", rc == TV_ERR_SECTION_READONLY, "REG with a read-only DATA page "
	      "gave 0x%x, want 0x%x", rc, TV_ERR_SECTION_READONLY);
	ro_alias(sh + PG, false);
	u64 val;
	int v = safe_read64(sh, &val);
	check("share_refused_page_kept", v < 0 && val == 0x5151, "after the refused SHAREs the "
	      "page read vector %d value 0x%lx, want none, 0x5151", v, val);
}

/* A page lent by SHARE: gone from the guest, read and written by the PAL,
 * given back unscrubbed with what the PAL wrote at UNREG. */
static void share_pal(void)
{
	static const u32 types[] = { TV_PAL_PM_INTEGER, TV_PAL_PM_INTEGER };
	static const u64 sizes[] = { 8, 8 };
	u64 entry = (u64)pal_mem + TVP_OFF(tvp_bad), sh = (u64)shared, val;
	u32 rc = reg_pal(TVP_OFF(tvp_bad), 2, types, sizes);
	check("share_reg", rc == TV_OK, "REG of the PAL gave eax=0x%x", rc);
	if (rc != TV_OK)
		return;
	u64 r = tvp_call(entry, 6, sh, 0);
	check("share_needed", r == TV_ERR_PAL_FAULT, "the PAL read a page not shared with it: "
	      "0x%lx, want 0x%x", r, TV_ERR_PAL_FAULT);
	((volatile u64 *)shared)[0] = 0x5151;
	((volatile u64 *)shared)[1] = 0;
	share_refused(entry, sh);
	share_expect("share", entry, sh, PG, 0, 0, 1, TV_OK);
	/* Lent already: now one of the PAL's own sections. */
	share_expect("share_twice", entry, sh, PG, 0, 0, 1, TV_ERR_SECTION_OVERLAP);
	int v = safe_read64(sh, &val);
	check("share_page_refused", v == 13, "the guest read a page lent to the PAL: vector %d, "
	      "want #GP", v);
	r = tvp_call(entry, 6, sh, 0);
	check("share_pal_reads", r == 0x5151, "the PAL read 0x%lx from the shared page, want "
	      "0x5151", r);
	rc = tv_call(TV_HC_UNREG, entry, 0, 0);
	check("share_unreg", rc == TV_OK, "UNREG gave eax=0x%x", rc);
	u64 *s = (u64 *)shared;
	check("share_pal_wrote", s[0] == 0x5151 && s[1] == 2 * 0x5151 + 1, "after UNREG the "
	      "shared page holds 0x%lx 0x%lx, want 0x5151 0x%x (kept, not scrubbed)", s[0], s[1],
	      2 * 0x5151 + 1);
}

static void run(void)
{
	if (check_need_hv("reg_add"))
		return;
	good_pal();
	bad_pal();
	share_pal();
}

SCENARIO(67, trustvisor_pal, run, "TrustVisor: calling PALs: parameters in and out, their "
	 "data kept, a faulting PAL abandoned with an error");
