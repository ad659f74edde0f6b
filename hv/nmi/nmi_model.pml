/*
 * nmi_model.pml -- Promela model of the hypervisor's quiesce protocol, its
 * NMI classifier and the guest-NMI pending/injection protocol.
 *
 * The C code it models: hv/nmi/quiesce.c (quiesce(), quiesce_answer(),
 * endquiesce()), hv/nmi/nmi.c (nmi_arrived(): the classifier;
 * nmi_after_exit(), nmi_before_entry(), nmi_commit_entry(): the injection
 * and NMI-window exiting), hv/vmx/exit.c (vmx_prepare_entry() and
 * compose_controls(): the one composition of PROC_CONTROLS per entry) and
 * hv/vapic/mtf_probe.c (the MTF probe's want). hv/nmi/MODEL.md maps every
 * variable and process to the C names and says what is abstracted away.
 * Run by tests/host/test_nmi_model.py.
 *
 * By hand (from a scratch directory):
 *     spin -a [-DN=3] [-DSEED_ORDER] /path/to/hv/nmi/nmi_model.pml
 *     gcc -O2 -DSAFETY -o pan pan.c && ./pan -m100000
 *
 * Macros (all optional):
 *   N=2|3           number of CPUs (default 2; the invariants are written out
 *                   for at most 3)
 *   SEED_ORDER      endquiesce() in the XMHF seed's order: resume_signal is
 *                   raised before quiesce_request is cleared (the bug of seed
 *                   001). Spin must find an error with it.
 *   NO_WINDOW_FIX   the injection as first specified: nmi_before_entry()
 *                   decides inject / NMI-window exiting once, and nothing else
 *                   touches the window. Spin finds a stuck guest NMI: one
 *                   taken in root after that decision and before VMRESUME
 *                   (MODEL.md, "The entry race").
 *   NO_RECHECK      the C scheme without nmi_commit_entry()'s second look at
 *                   nmi_pending after entry_committed is set. Spin finds the
 *                   same stuck NMI (it arrives between the first look and the
 *                   commit): both halves of the C scheme are needed.
 *   PROBE_AFTER_COMMIT  the MTF probe in its old place and form (issue 10):
 *                   after nmi_before_entry() has committed, it
 *                   read-modify-writes PROC_CONTROLS (read; write read|MTF,
 *                   two steps). An NMI taken through the IDT in between sets
 *                   NMI-window exiting and the write drops it. Spin finds a
 *                   guest running with an NMI pending and the window off
 *                   (window_ok); with NO_WINDOW_INVARIANT, the NMI never
 *                   delivered when the MTF exit does not come either.
 *   NO_WINDOW_INVARIANT  leave out window_monitor (property 5), so that a
 *                   variant that breaks it runs on to its consequence at the
 *                   end (final_check: a guest NMI never delivered).
 *   X2APIC_NO_FENCE the quiesce NMIs may overtake the store of
 *                   quiesce_request (an x2APIC ICR WRMSR is not serializing).
 *                   Spin finds a deadlock (MODEL.md, "Store ordering").
 *   NO_ACK_ASSERT   drop the "ack counter never exceeds N-1" assertions (lets
 *                   the SEED_ORDER run go on to find the deadlock / lost NMI
 *                   instead of stopping at the double acknowledgement).
 *   IPIS=k          guest NMI IPIs in total, any CPU to any CPU (default 2)
 *   EXT=k           external NMIs (QEMU inject-nmi, a watchdog) (default 1)
 *   QCPUS=k         how many CPUs' guests may make the quiesce VMCALL
 *                   (default 2: CPU 0 and 1, concurrently: seed's T2/T5)
 *   QCALLS=k        quiesce VMCALLs per such CPU (default 1)
 *   PROBES=k        entries, on any CPU, on which the MTF probe arms (default
 *                   1; vapic_mtf_probe_arm() arms until a verdict)
 *
 * The debugger's all-stop (hv/gdbstub/stop.c, triggers.c, capture.c, the
 * hook in hv/nmi/nmi.c; MODEL.md, "Debugger stop"), as now implemented:
 * numbered stops (stop_gen, released_gen; stop_asked and parked hold a
 * stop's number), quiesce_before sampled at the NMI's entry, nested stops
 * counted (depth).
 *   STOPS=k         debugger stops (breakpoint, break-in, fatal error) that
 *                   the CPUs may run into, in total (default 0: the model
 *                   without the debugger). Steps (gdb's s) are not modelled.
 *   STOP_AT=m       where a CPU may stop: 1 at an exit (a breakpoint in an
 *                   exit handler, the break-in poll at entry), 2 inside the
 *                   hypapp section (a stop during a quiesce), 3 both (default)
 *   STOP_OLD_PARK   stop.c and triggers.c as first committed (one
 *                   release_gen read by park(), stop_asked a flag cleared by
 *                   the stopping CPU, any parked CPU counted, no depth, the
 *                   stop IPI answering any quiesce). Spin finds a CPU parked
 *                   for a stop already released (invalid end state).
 *   STOP_NO_RECHECK leave() does not look for a newer stop after clearing
 *                   parked. Spin finds a deadlock.
 *   STOP_WAIT_IN_QUIESCE  quiesce_answer() waits for the resume signal on a
 *                   debug-stopped CPU too. Spin finds a deadlock.
 *   STOP_NO_DEPTH   every gdb_writeback() clears debug_stopped and settles,
 *                   a nested stop's too (capture.c before depth). Spin finds
 *                   a deadlock.
 *   STOP_UNLOCK_FIRST, STOP_PARKED_ANY  the reporter lets go of reporter
 *                   before it sets released_gen; wait_others() counts any
 *                   parked CPU. No error within the model (it has no steps
 *                   and no STOP_WAIT_MS timeout: MODEL.md).
 *   SETTLE_ACK_FIRST  the order before the fix: wait_resume() counts the
 *                   resume before it clears v->stopped. Spin finds a
 *                   deadlock when one CPU answers two quiesces around a stop
 *                   (QCALLS=2, or N=3 with two quiescers): MODEL.md,
 *                   "Findings", 3. The C now clears stopped first.
 *   NO_SPURIOUS_CHECK  leave out the spurious-NMI half of property 3 (a
 *                   known limit of the C: a debugger NMI answers a quiesce
 *                   whose own NMI then goes to the guest; MODEL.md).
 */

#ifndef N
#define N 2
#endif
#ifndef IPIS
#define IPIS 2
#endif
#ifndef EXT
#define EXT 1
#endif
#ifndef QCPUS
#define QCPUS 2
#endif
#ifndef QCALLS
#define QCALLS 1
#endif
#ifndef PROBES
#define PROBES 1
#endif
#ifndef STOPS
#define STOPS 0
#endif
#ifndef STOP_AT
#define STOP_AT 3
#endif

/* ---- globals of hv/nmi/quiesce.c ---------------------------------------- */
bit  quiesce_lock;          /* test-and-set spinlock; holder runs the hypapp */
bit  quiesce_request;       /* "a quiesce is in progress"                   */
byte quiesce_acks;          /* CPUs that have stopped (atomic increments)    */
bit  resume_signal;         /* "stopped CPUs may go"                          */
byte resume_acks;           /* CPUs that have resumed (atomic increments)    */

/* ---- per-CPU state of hv/nmi/nmi.c -------------------------------------- */
bit  stopped[N];            /* answered the current request, or the quiescer */
bit  nmi_pending[N];        /* a guest NMI waits for injection (0/1)         */
/* hv_coalesced[c]: guest NMIs merged into an already pending one (counted:
 * see "NMI accounting" below)                                              */

#if STOPS > 0
/* ---- the debugger's all-stop, hv/gdbstub/stop.c, triggers.c ------------- */
#define NOBODY 255
byte reporter = NOBODY;     /* gdb.reporter (-1: NOBODY)                     */
#ifdef STOP_OLD_PARK
byte release_gen;           /* gdb.release_gen (bumped at most STOPS times)  */
bit  stop_asked[N];         /* gdb_cpus[c].stop_asked                        */
bit  parked[N];             /* gdb_cpus[c].parked                            */
#else
byte stop_gen;              /* gdb.stop_gen: the latest stop's number (1, 2,
                               ...; at most STOPS)                           */
byte released_gen;          /* gdb.released_gen: stops up to it are over     */
byte stop_asked[N];         /* gdb_cpus[c].stop_asked: the stop it is asked
                               to park for (never cleared: in force or not) */
byte parked[N];             /* gdb_cpus[c].parked: the stop it is parked for
                               (or reports), 0: none                         */
#endif
bit  ipi_in_flight[N];      /* gdb_cpus[c].ipi_in_flight                     */
bit  debug_stopped[N];      /* vcpus[c].debug_stopped (gdb_capture() sets it;
                               gdb_writeback() clears it when c->depth is
                               back to 0; STOP_OLD_PARK, STOP_NO_DEPTH: every
                               writeback clears it)                          */
bit  quiesce_owed[N];       /* vcpus[c].quiesce_owed                         */
#endif

/* ---- the guest's view (VMCS guest interruptibility state) --------------- */
bit  guest_nmi_blocked[N];  /* virtual-NMI blocking: guest in its NMI handler*/
byte proc_ctl[N];           /* VMCS PROC_CONTROLS, the two bits that matter:*/
#define PROC_NMI_WINDOW 1   /*   NMI-window exiting                         */
#define PROC_MTF        2   /*   monitor trap flag                          */
#define WINDOW_ON(c)    ((proc_ctl[c] & PROC_NMI_WINDOW) != 0)
#define MTF_ON(c)       ((proc_ctl[c] & PROC_MTF) != 0)
bit  entry_committed[N];    /* v->entry_committed: nmi_before_entry() has
                               written the VMCS for the coming entry; cleared
                               by nmi_after_exit() after every exit          */

/* ---- hardware ------------------------------------------------------------ */
bit  hw_blocked[N];         /* physical NMI blocking (root handler, or after
                               an NMI VM exit until the hypervisor's IRET)   */
bit  hw_latched[N];         /* one NMI held pending by the CPU               */
/* hw_coalesced[c]: NMIs merged by hardware into a latched one (counted)  */
bit  in_guest[N];           /* CPU is in VMX non-root operation              */
bit  in_handler[N];         /* nmi_unit(c) is running: the main flow of CPU c
                               is interrupted (or, after an NMI VM exit, has
                               not yet got control back)                     */
/* Does the MTF control give its VM exit? The probe exists because some
 * "hardware" offers it and never exits (Bochs 2.7). Decided by the first
 * guest that runs with MTF set: it exits (MTF_WORKS, for good) or the
 * hardware is MTF_DEAD (for good: MTF then never exits). Chosen lazily, so
 * the runs that never set MTF are not doubled. */
#define MTF_UNKNOWN 0
#define MTF_WORKS   1
#define MTF_DEAD    2
byte mtf_hw = MTF_UNKNOWN;

/* ---- bookkeeping for the properties (not in the C code) ----------------- */

/* NMI accounting for property 3, per CPU c: sent_to (guest IPIs and external
 * NMIs sent to c), injected (NMIs injected into c's guest), hv_coalesced,
 * hw_coalesced. By default only the two differences the properties need are
 * kept (fewer distinct states):
 *     unmatched[c] = sent_to - injected - hv_coalesced - hw_coalesced
 *     spare[c]     = sent_to - injected
 * -DFULL_COUNTERS keeps the four counters instead (easier trails). */
#ifdef FULL_COUNTERS
byte sent_to[N], injected[N], hv_coalesced[N], hw_coalesced[N];
#define COUNT_SENT(c)          sent_to[c]++
#define COUNT_INJECTED(c)      injected[c]++
#define COUNT_HV_COALESCED(c)  hv_coalesced[c]++
#define COUNT_HW_COALESCED(c)  hw_coalesced[c]++
#define NONE_LOST(c)     (injected[c] + hv_coalesced[c] + hw_coalesced[c] >= \
                          sent_to[c])
#define NONE_SPURIOUS(c) (injected[c] <= sent_to[c])
#else
short unmatched[N], spare[N];
#define COUNT_SENT(c)          unmatched[c]++; spare[c]++
#define COUNT_INJECTED(c)      unmatched[c]--; spare[c]--
#define COUNT_HV_COALESCED(c)  unmatched[c]--
#define COUNT_HW_COALESCED(c)  unmatched[c]--
#define NONE_LOST(c)     (unmatched[c] <= 0)
#define NONE_SPURIOUS(c) (spare[c] >= 0)
#endif
byte in_section;            /* CPUs inside the hypapp section                */
bit  mutex_ok = 1;          /* property 2 holds (only ever 0 in the state of
                               a violation: named so spin's report is short) */
bit  in_sec[N];
byte ipi_budget = IPIS;     /* guest NMI IPIs still allowed                  */
byte ext_budget = EXT;      /* external NMIs still allowed                   */
byte vmcalls[N];            /* quiesce VMCALLs each guest may still make     */
byte probe_budget = PROBES; /* entries on which the MTF probe may still arm */
bit  window_ok = 1;         /* property 5 holds (0 only in a violation)      */
#if STOPS > 0
byte stop_budget = STOPS;   /* debugger stops still allowed                  */
byte in_stop[N];            /* gdb_cpus[c].depth: nesting depth of CPU c's
                               stops, from its capture to its writeback, in
                               its main flow and in its NMI handler (with
                               STOP_OLD_PARK only bookkeeping: the C as first
                               committed had no depth)                       */
byte cmd_loop = NOBODY;     /* the reporter while it runs command_loop()     */
bit  allstop_ok = 1;        /* property 6 holds (0 only in a violation)      */
#endif

#define DELIVERABLE(c)  (hw_latched[c] && !hw_blocked[c])
#define WINDOW_DUE(c)   (WINDOW_ON(c) && !guest_nmi_blocked[c])
/* the MTF exit: MTF set, and the hardware does (or may) deliver it */
#define MTF_CAN_EXIT(c) (in_guest[c] && MTF_ON(c) && mtf_hw != MTF_DEAD)
/* the guest executes an instruction: in non-root, no NMI to take, no
 * NMI-window exit due (that exit happens before any guest instruction) */
#define GUEST_RUNS(c)   (in_guest[c] && !WINDOW_DUE(c))

#ifdef NO_ACK_ASSERT
#define ACK_ASSERT(x)   skip
#else
#define ACK_ASSERT(x)   assert(x <= N - 1)
#endif

/* Property 2: at most one CPU in the hypapp section, and while CPU h is in
 * it every other CPU is stopped: in root mode (not running guest code),
 * stopped[] set, not in a section itself. Written out for N <= 3. */
#define HALTED(h, o)    ((o) >= N || (o) == (h) || \
                         (stopped[o] && !in_guest[o] && !in_sec[o]))
#define OTHERS_HALTED(h) (HALTED(h, 0) && HALTED(h, 1) && HALTED(h, 2))
#define HOLDER_OK(h)    ((h) >= N || !in_sec[h] || OTHERS_HALTED(h))
#define MUTEX_INV       (in_section <= 1 && HOLDER_OK(0) && HOLDER_OK(1) && \
                         HOLDER_OK(2))

/* Property 5: a guest never runs with a guest NMI pending and NMI-window
 * exiting off. While the guest can take the NMI, the window exit comes at
 * once; while it blocks NMIs, at the IRET that ends the blocking. Without
 * the window bit only some unrelated exit would deliver the NMI, and none
 * is guaranteed. Written out for N <= 3. */
#define ARMED(c)        ((c) >= N || !in_guest[c] || !nmi_pending[c] || \
                         WINDOW_ON(c))
#define WINDOW_INV      (ARMED(0) && ARMED(1) && ARMED(2))

#if STOPS > 0
/* Property 6 (all-stop): while a reporter runs the command loop, every other
 * CPU is inside a stop of its own (captured, not yet written back): parked,
 * or on its way in or out, and not running guest code. Written out for
 * N <= 3. */
#define STOPPED(r, o)   ((o) >= N || (o) == (r) || (in_stop[o] > 0 && !in_guest[o]))
#define ALLSTOP_INV     (cmd_loop == NOBODY || (STOPPED(cmd_loop, 0) && \
                         STOPPED(cmd_loop, 1) && STOPPED(cmd_loop, 2)))

/* The debugger's code, as inlines (hv/gdbstub/stop.c). A CPU runs it in its
 * main flow (cpu: a breakpoint, the break-in poll, a spin of the quiesce
 * protocol that polls) or in its NMI handler (nmi_unit: the stop IPI, or a
 * wait for the resume signal that polls). Each uses the local gen (old: the
 * park's release generation; new: the stop it parks for) of the process it
 * is expanded in. */

/* The spins of the quiesce protocol poll the stop (nmi_stop_poll()) once
 * per failed round: while (xchg(lock)) { cpu_relax(); poll; }, while
 * (acks < want) { cpu_relax(); poll; }. The local rnd is set by a failed
 * round and lets one poll that finds a stop (SPIN_POLL) come any time
 * after it; a round's poll that finds nothing changes nothing and is left
 * out, and while rnd is set no further failed round is taken. So a CPU
 * spinning for ever with nothing to do is a state with no move (spin's
 * invalid end state), not a cycle that would hide the deadlock. (rnd also
 * lets a CPU skip the poll of its last failed round although a stop is
 * asked; an over-approximation: more behaviours than the C.) */
#define SPIN_POLL(c)    atomic { rnd && POLL_GUARD(c) -> rnd = 0 } POLL_TAIL(c)

#ifdef STOP_OLD_PARK
/* ======== stop.c as first committed (the model finds a CPU parked for a
 * stop already released: MODEL.md, "Findings", 1) ======== */

/* The decision to stop for a request, then gdb_stop_asked_here()'s first
 * store: on_nmi_layer() / on_nmi() read stop_asked && !parked,
 * gdb_stop_asked_here() clears stop_asked later (two steps: a poll with NMIs
 * open can be overtaken by the stop IPI in between). */
#define POLL_GUARD(c)   (stop_asked[c] && !parked[c])
#define POLL_TAIL(c)    ; stop_asked[c] = 0
#define STOP_POLL(c)    atomic { POLL_GUARD(c) } POLL_TAIL(c)

/* gdb_capture(): ... debug_stopped = true */
inline capture(c)   { atomic { debug_stopped[c] = 1; in_stop[c]++ } }
/* gdb_writeback(): ... debug_stopped = false (every one: no depth) */
inline writeback(c) { atomic { debug_stopped[c] = 0; in_stop[c]-- } }

/* park(): wait for the release (a step handoff is not modelled) */
inline park(c) {
    gen = release_gen;
    parked[c] = 1;
    atomic { release_gen != gen -> gen = 0 }
}

/* leave()'s loop: parked cleared (SEQ_CST), then a new request looked for
 * (the reporter sets stop_asked, then reads parked: Dekker) */
inline leave(c) {
    do
    :: parked[c] = 0;
#ifndef STOP_NO_RECHECK
       if
       :: stop_asked[c] -> stop_asked[c] = 0; park(c)
       :: else -> gen = 0; break
       fi
#else
       gen = 0; break
#endif
    od
}

/* gdb_stop_asked_here() where nothing can be owed (inside wait_resume()) */
inline stop_inner(c) {
    capture(c);
    park(c);
    leave(c);
    writeback(c);
    assert(!quiesce_owed[c])            /* quiesce_settle_owed(): nothing */
}

/* the spin of wait_resume(): until resume_signal; nmi_stop_poll(). Inside
 * it the CPU is stopped[] for the quiesce it waits for, so quiesce_answer()
 * cannot answer another one: a stop taken here owes nothing, and its
 * writeback's quiesce_settle_owed() is a no-op (stop_inner asserts it). */
inline wait_resume(c) {
    do
    :: atomic { resume_signal -> rnd = 0 }; break
    :: atomic { !resume_signal && !rnd -> rnd = 1 }     /* a round: not yet */
    :: SPIN_POLL(c);                            /* on_nmi_layer(v, false) */
       stop_inner(c)
    od
}

/* gdb_writeback()'s quiesce_settle_owed(): acknowledged while stopped, now
 * wait for that quiesce's resume signal */
inline settle(c) {
    if
    :: atomic { quiesce_owed[c] -> quiesce_owed[c] = 0 };
       wait_resume(c);
#ifdef SETTLE_ACK_FIRST
       atomic { resume_acks++; ACK_ASSERT(resume_acks) };
       stopped[c] = 0
#else
       stopped[c] = 0;
       atomic { resume_acks++; ACK_ASSERT(resume_acks) }
#endif
    :: else
    fi
}

/* gdb_stop_asked_here(): a stop another CPU reports (its stop IPI, or a
 * poll in a spin of the quiesce protocol) */
inline stop_here(c) {
    capture(c);
    park(c);
    leave(c);
    writeback(c);
    settle(c)
}

#else
/* ======== stop.c, triggers.c, capture.c as now implemented: numbered
 * stops ======== */

/* in_force(g): g && g > gdb.released_gen */
#define IN_FORCE(g)     ((g) != 0 && (g) > released_gen)
/* gdb_stop_asked_now(): a stop in force is asked of c, and c is not parked
 * for it already. Three loads (stop_asked, released_gen, parked) in one
 * step: parked[c] is written only by CPU c, which is running this; and
 * stop_asked[c] changes only when a new stop begins, after the one it held
 * was released. So the loads see what one load at the last of them sees. */
#define ASKED_NOW(c)    (IN_FORCE(stop_asked[c]) && parked[c] != stop_asked[c])

/* nmi_stop_poll() -> on_nmi_layer(v, false): gdb_stop_asked_now() (a
 * filter: gdb_stop_if_asked() looks again, an NMI may come in between) */
#define POLL_GUARD(c)   ASKED_NOW(c)
#define POLL_TAIL(c)
#define STOP_POLL(c)    atomic { POLL_GUARD(c) }

/* gdb_capture(): depth++, debug_stopped = true. One step: an NMI between
 * the two finds depth > 0 and debug_stopped not yet set; quiesce_answer()
 * in it reads debug_stopped as just before the capture, and a stop it takes
 * leaves debug_stopped set (depth 2 -> 1), which our store sets anyway. */
inline capture(c)   { atomic { in_stop[c]++; debug_stopped[c] = 1 } }

/* park_for(c, me, g): parked = g; while (in_force(g)) ... (no step
 * hand-off, no gdb_run_on() work) */
inline park_for(c) {
    parked[c] = gen;
    (released_gen >= gen)
}

/* leave(): for (;;) { parked = 0; g = stop_asked; if (!in_force(g)) break;
 * park_for(g); } (the reporter stores stop_asked, then loads parked:
 * Dekker with the first two). The load of stop_asked and in_force()'s
 * load of released_gen are one step (see ASKED_NOW). STOP_NO_RECHECK: no
 * look for a newer stop after parked is cleared. */
inline leave(c) {
    do
    :: parked[c] = 0;
#ifndef STOP_NO_RECHECK
       if
       :: atomic { IN_FORCE(stop_asked[c]) -> gen = stop_asked[c] };
          park_for(c)
       :: else -> gen = 0; break
       fi
#else
       gen = 0; break
#endif
    od
}

/* gdb_writeback(): if (--depth) return; debug_stopped = false; then
 * quiesce_settle_owed(). The decrement and the store are two steps: an NMI
 * in between (quiesce_answer() sees debug_stopped) answers with an owed
 * wait, which the settle right after pays. STOP_NO_DEPTH: as first
 * committed, every writeback clears debug_stopped and settles (a nested
 * stop's writeback too, under the outer one).
 * writeback_inner: the same inside wait_resume(), where nothing can be
 * owed (quiesce_settle_owed() is a no-op: asserted). */
#ifndef STOP_NO_DEPTH
inline writeback_inner(c) {
    if
    :: atomic { in_stop[c] > 1 -> in_stop[c]-- }
    :: atomic { in_stop[c] == 1 -> in_stop[c] = 0 };
       debug_stopped[c] = 0;
       assert(!quiesce_owed[c])
    fi
}
#else
inline writeback_inner(c) {
    atomic { in_stop[c]--; debug_stopped[c] = 0 };
    assert(!quiesce_owed[c])
}
#endif

/* gdb_stop_if_asked() inside wait_resume(): g = stop_asked; if
 * (!in_force(g) || parked == g) return; capture; park_for(g); leave;
 * writeback */
inline stop_inner(c) {
    if
    :: atomic { ASKED_NOW(c) -> gen = stop_asked[c] };
       capture(c);
       park_for(c);
       leave(c);
       writeback_inner(c)
    :: else
    fi
}

/* the spin of wait_resume(): until resume_signal; nmi_stop_poll(). Inside
 * it the CPU is stopped[] for the quiesce it waits for, so quiesce_answer()
 * cannot answer another one: a stop taken here owes nothing, and its
 * writeback's quiesce_settle_owed() is a no-op (stop_inner asserts it). */
inline wait_resume(c) {
    do
    :: atomic { resume_signal -> rnd = 0 }; break
    :: atomic { !resume_signal && !rnd -> rnd = 1 }     /* a round: not yet */
    :: SPIN_POLL(c);                            /* on_nmi_layer(v, false) */
       stop_inner(c)
    od
}

/* gdb_writeback()'s quiesce_settle_owed(): acknowledged while stopped, now
 * wait for that quiesce's resume signal */
inline settle(c) {
    if
    :: atomic { quiesce_owed[c] -> quiesce_owed[c] = 0 };
       wait_resume(c);
#ifdef SETTLE_ACK_FIRST
       atomic { resume_acks++; ACK_ASSERT(resume_acks) };
       stopped[c] = 0
#else
       stopped[c] = 0;
       atomic { resume_acks++; ACK_ASSERT(resume_acks) }
#endif
    :: else
    fi
}

#ifndef STOP_NO_DEPTH
inline writeback(c) {
    if
    :: atomic { in_stop[c] > 1 -> in_stop[c]-- }
    :: atomic { in_stop[c] == 1 -> in_stop[c] = 0 };
       debug_stopped[c] = 0;
       settle(c)
    fi
}
#else
inline writeback(c) {
    atomic { in_stop[c]--; debug_stopped[c] = 0 };
    settle(c)
}
#endif

/* gdb_stop_if_asked() anywhere else: the same with the settle */
inline stop_if_asked(c) {
    if
    :: atomic { ASKED_NOW(c) -> gen = stop_asked[c] };
       capture(c);
       park_for(c);
       leave(c);
       writeback(c)
    :: else
    fi
}

/* a poll in a spin of cpu (quiesce()'s lock and ack spins, endquiesce()'s
 * wait): on_nmi_layer(v, false) */
inline stop_here(c) {
    stop_if_asked(c)
}
#endif

#endif

/* gdb_stop()'s first step as first committed: stop_asked = 0; the end
 * check: nothing asked (old: the flag; new: no stop in force) */
#if STOPS > 0
#ifdef STOP_OLD_PARK
#define OLD_CLEAR_ASK(c) stop_asked[c] = 0
#define ASKED_END(c)    stop_asked[c]
#else
#define OLD_CLEAR_ASK(c) skip
#define ASKED_END(c)    IN_FORCE(stop_asked[c])
#endif
#endif

/* nmi_unit's quiesce branch: not for the debugger's NMI alone */
#if STOPS > 0 && !defined(STOP_OLD_PARK)
#define QB_OK           (!(ours && !qb))
#define QB_CLEAR        qb = 0; via_exit = 0
#else
#define QB_OK           1
#define QB_CLEAR        skip
#endif

/* A physical NMI arrives at CPU t (APIC NMI IPI, or the NMI pin). The CPU
 * holds at most one: a second one is merged by the hardware (legal loss).
 * Always used inside an atomic: the arrival is one hardware event. */
inline send_nmi(t) {
    if
    :: hw_latched[t] -> COUNT_HW_COALESCED(t)
    :: else -> hw_latched[t] = 1
    fi
}

/*
 * nmi_unit(c): CPU c taking a physical NMI, both ways, and running the
 * classifier nmi_arrived(c) (hv/nmi/nmi.c) with physical NMIs blocked.
 *  - c in the guest: NMI VM exit (hw_blocked = 1, in_guest = 0); the exit
 *    handler calls nmi_arrived() and IRETs at once; then the main flow
 *    (proctype cpu, which sees in_guest == 0) goes on with the exit handler.
 *  - c in root with NMIs unblocked: the IDT NMI handler interrupts the main
 *    flow (which cannot step while in_handler[c]), calls nmi_arrived(), IRETs.
 * The NMI is taken at the next instruction boundary: proctype cpu's
 * "provided" clause forbids it to step while an NMI is deliverable.
 */
proctype nmi_unit(byte c)
{
#if STOPS > 0
    byte gen;                   /* park()'s release generation / park_for()'s
                                   stop                                      */
    bit ours;                   /* the debugger's hook: this NMI was its IPI */
    bit rnd;                    /* a failed round of a spin (SPIN_POLL)      */
#ifndef STOP_OLD_PARK
    bit via_exit;               /* NMI VM exit (else IDT vector 2)           */
    bit qb;                     /* quiesce_before: quiesce_requested() at the
                                   NMI's entry, before any park               */
#endif
#endif
end:
    do
    :: atomic { DELIVERABLE(c) ->
            hw_latched[c] = 0;
            hw_blocked[c] = 1;          /* NMI exit / IDT delivery blocks NMIs */
            in_handler[c] = 1;
            if
            :: in_guest[c] ->           /* NMI VM exit: vmx_exit_handler() */
                in_guest[c] = 0;
#if STOPS > 0 && !defined(STOP_OLD_PARK)
                via_exit = 1;
#endif
                entry_committed[c] = 0  /* nmi_after_exit(), NMIs still
                                           blocked, then nmi_exit() */
            :: else                     /* IDT vector 2: nmi_from_idt() */
            fi
       }
#if STOPS > 0 && !defined(STOP_OLD_PARK)
       /* ---- the debugger's hook and nmi_arrived()'s quiesce_before ----
        * Exit path, nmi_arrived(v, NMI_VIA_EXIT): quiesce_before =
        * quiesce_requested(); then the hook on_nmi_layer(v, true): ours =
        * xchg(ipi_in_flight, 0); if (gdb_stop_asked_now(c))
        * gdb_stop_if_asked(c, NULL) (which looks again).
        * IDT path, on_nmi() (exception_dispatch(), before nmi_from_idt()):
        * ours = xchg(ipi_in_flight, 0); quiesce_before =
        * quiesce_requested(); gdb_stop_if_asked(c, r). */
       if
       :: via_exit ->
          qb = quiesce_request;
          atomic { ours = ipi_in_flight[c]; ipi_in_flight[c] = 0 };
          if
          :: STOP_POLL(c); stop_if_asked(c)
          :: else
          fi
       :: else ->
          atomic { ours = ipi_in_flight[c]; ipi_in_flight[c] = 0 };
          qb = quiesce_request;
          stop_if_asked(c)
       fi;
       /* Then: ours && !quiesce_before: the debugger's NMI alone, return
        * (exit: nmi_arrived() returns; IDT: on_nmi() returns true, no
        * nmi_from_idt()). Otherwise quiesce_answer() (IDT and ours: on_nmi()
        * calls it; else nmi_arrived()); if it answered nothing, ours is the
        * debugger's, else a guest NMI. So the quiesce branch below is
        * guarded by !(ours && !qb). */
#endif
#if STOPS > 0 && defined(STOP_OLD_PARK)
       /* ---- the debugger's hook, first: on_nmi() (triggers.c, called by
        * exception_dispatch() before nmi_from_idt()) on the IDT path,
        * on_nmi_layer(v, true) (called first by nmi_arrived()) on the exit
        * path. Both: ours = xchg(ipi_in_flight, 0); park if asked and not
        * parked already (a stop IPI nesting in a stop of the main flow
        * finds parked set). parked[c] is written only by CPU c, whose main
        * flow cannot run: the two reads are one step. ---- */
       atomic { ours = ipi_in_flight[c]; ipi_in_flight[c] = 0 };
       if
       :: STOP_POLL(c);
          stop_here(c)
       :: else
       fi;
       /* Then both paths come to quiesce_answer() (on_nmi() calls it when
        * ours, else nmi_arrived() does), and the NMI is the guest's only
        * when it answered no quiesce and was not ours. */
#endif
       /* ---- nmi_arrived(c) ---- */
       if
       :: atomic { QB_OK && quiesce_request && !stopped[c] ->  /* a quiesce
                                                   NMI: quiesce_answer() */
            stopped[c] = 1; QB_CLEAR }
            atomic { quiesce_acks++; ACK_ASSERT(quiesce_acks) };
#if STOPS > 0
#ifndef STOP_WAIT_IN_QUIESCE
            if
            :: atomic { debug_stopped[c] -> quiesce_owed[c] = 1 };
               /* stopped by the debugger (this NMI nests in its stop):
                * acknowledged, no wait; quiesce_settle_owed() waits */
               atomic { ours = 0; QB_CLEAR; hw_blocked[c] = 0; in_handler[c] = 0 }
            :: else ->
#endif
               wait_resume(c);                  /* wait until resume_signal,
                                                   polling the stop */
#ifdef SETTLE_ACK_FIRST
               atomic { resume_acks++; ACK_ASSERT(resume_acks) };
               atomic {
                   stopped[c] = 0; ours = 0; QB_CLEAR;
                   hw_blocked[c] = 0; in_handler[c] = 0
               }
#else
               stopped[c] = 0;
               atomic { resume_acks++; ACK_ASSERT(resume_acks) };
               atomic {
                   ours = 0; QB_CLEAR;
                   hw_blocked[c] = 0; in_handler[c] = 0
               }
#endif
#ifndef STOP_WAIT_IN_QUIESCE
            fi
#endif
#else
            (resume_signal);                    /* wait until resume_signal */
            atomic { resume_acks++; ACK_ASSERT(resume_acks) };
            atomic {
                stopped[c] = 0;
                /* return from nmi_arrived(); IRET: NMIs unblocked */
                hw_blocked[c] = 0; in_handler[c] = 0
            }
#endif
       :: else ->                              /* a guest NMI */
            atomic {
#if STOPS > 0
              if
              :: ours -> ours = 0   /* the debugger's stop IPI: not the
                                       guest's (on_nmi() returns true; the
                                       exit path returns before the rest) */
              :: else ->
#endif
                if
                :: nmi_pending[c] -> COUNT_HV_COALESCED(c)
                :: else -> nmi_pending[c] = 1
                fi;
#ifndef NO_WINDOW_FIX
                /* if (path == NMI_VIA_IDT && entry_committed)
                 *     vmcs_write(PROC_CONTROLS,
                 *                vmcs_read(PROC_CONTROLS) | PROC_NMI_WINDOW)
                 * the main path is past its last look at nmi_pending. (On the
                 * exit path entry_committed is 0: nmi_after_exit() ran
                 * first.) A read-modify-write, but one step: it interrupts
                 * the main path, the only other writer, which cannot run
                 * until it returns. */
                if
                :: entry_committed[c] -> proc_ctl[c] = proc_ctl[c] | PROC_NMI_WINDOW
                :: else
                fi;
#endif
#if STOPS > 0
              fi;
              QB_CLEAR;
#endif
                /* return from nmi_arrived(); IRET: NMIs unblocked */
                hw_blocked[c] = 0; in_handler[c] = 0
            }
       fi
    od
}

#if STOPS > 0
#ifdef STOP_OLD_PARK
/* gdb_stop() (stop.c as first committed), in CPU c's main flow: a
 * breakpoint, the break-in poll. The first step (stop_asked = 0) is the
 * caller's, with the budget. Locals of cpu: gen, won, u. */
inline gdb_stop(c) {
    capture(c);
    atomic {                            /* CAS(reporter, -1, me) */
        if
        :: reporter == NOBODY -> reporter = c; won = 1
        :: else -> won = 0
        fi
    };
    if
    :: atomic { won -> won = 0; parked[c] = 1 };   /* the reporter */
       /* ask_others(): per CPU, stop_asked = 1, then read parked (Dekker
        * with leave()), then the IPI unless one is in flight: the xchg of
        * ipi_in_flight and the ICR write are two steps */
       u = 0;
       do
       :: u == c -> u++
       :: u < N && u != c ->
          stop_asked[u] = 1;
          if
          :: parked[u]                  /* it sees the request when it leaves */
          :: else ->
             if
             :: atomic { !ipi_in_flight[u] -> ipi_in_flight[u] = 1 };
                atomic { send_nmi(u) }  /* lapic_send_ipi(.., ICR_NMI) */
             :: atomic { ipi_in_flight[u] -> skip }
             fi
          fi;
          u++
       :: u == N -> u = 0; break
       od;
       /* wait_others(): until every other CPU is parked (C: at most
        * STOP_WAIT_MS, then it reports the missing ones and goes on; the
        * model waits without bound, so a CPU that never parks is a
        * deadlock). One read per CPU, as the C loop. */
       do
       :: u == c -> u++
       :: atomic { u < N && u != c && parked[u] -> u++ }
       :: u == N -> u = 0; break
       od;
       /* command_loop(): gdb looks (property 6); gdb's continue comes */
       atomic { cmd_loop = c; allstop_ok = ALLSTOP_INV; assert(allstop_ok) };
       cmd_loop = NOBODY;
       /* release_all() */
       do
       :: atomic { u < N -> stop_asked[u] = 0; u++ }
       :: u == N -> u = 0; break
       od;
       reporter = NOBODY;
       release_gen++
    :: else ->                          /* another CPU reports: park */
       park(c)
    fi;
    leave(c);
    writeback(c);
    settle(c)
}
#else
/* gdb_stop() (stop.c as now implemented), in CPU c's main flow: a
 * breakpoint, the break-in poll. Locals of cpu: gen (the stop), u. */
inline gdb_stop(c) {
    capture(c);
    if
    /* lose_to_reporter(): for (;;) { CAS(reporter, -1, me) won: report;
     * g = stop_asked; if (in_force(g)) { park_for(g); leave; return } }.
     * A failed round changes nothing, so the loop is modelled as waiting
     * until one of its two tests succeeds (meanwhile this CPU's NMIs are
     * open: the stop IPI may park it right here, nested). */
    :: atomic { reporter == NOBODY -> reporter = c;
            /* the reporter: a stop still in force is reused (a CPU back
             * from a step: steps are not modelled, so never), else
             * stop_gen++. stop_gen and released_gen are written only by
             * the CPU that holds reporter, and the new number is nobody
             * else's until stop_asked publishes it: one step with the CAS */
            if
            :: !IN_FORCE(stop_gen) -> stop_gen++
            :: else
            fi;
            gen = stop_gen };
       parked[c] = gen;
       /* ask_others(g): per CPU, stop_asked = g, then read parked (Dekker
        * with leave()): parked (for g, or still leaving an older stop: it
        * looks at stop_asked after it clears parked) needs no NMI; else
        * the IPI unless one is in flight (the xchg of ipi_in_flight and the
        * ICR write are two steps) */
       u = 0;
       do
       :: u == c -> u++
       :: u < N && u != c ->
          stop_asked[u] = gen;
          if
          :: parked[u] != 0
          :: else ->
             if
             :: atomic { !ipi_in_flight[u] -> ipi_in_flight[u] = 1 };
                atomic { send_nmi(u) }  /* lapic_send_ipi(.., ICR_NMI) */
             :: atomic { ipi_in_flight[u] -> skip }
             fi
          fi;
          u++
       :: u == N -> u = 0; break
       od;
       /* wait_others(g): until every other CPU has parked == g (C: at most
        * STOP_WAIT_MS, then it reports the missing ones and goes on; the
        * model waits without bound, so a CPU that never parks is a
        * deadlock). One read per CPU, as the C loop. STOP_PARKED_ANY: any
        * parked CPU counts (the first committed gdb_cpu_is_stopped()). */
       do
       :: u == c -> u++
#ifndef STOP_PARKED_ANY
       :: atomic { u < N && u != c && parked[u] == gen -> u++ }
#else
       :: atomic { u < N && u != c && parked[u] != 0 -> u++ }
#endif
       :: u == N -> u = 0; break
       od;
       /* command_loop(): gdb looks (property 6); gdb's continue comes */
       atomic { cmd_loop = c; allstop_ok = ALLSTOP_INV; assert(allstop_ok) };
       cmd_loop = NOBODY;
       /* continue: released_gen = g, then reporter = -1 (STOP_UNLOCK_FIRST:
        * the other order) */
#ifndef STOP_UNLOCK_FIRST
       released_gen = gen;
       reporter = NOBODY
#else
       reporter = NOBODY;
       released_gen = gen
#endif
    :: atomic { IN_FORCE(stop_asked[c]) -> gen = stop_asked[c] };
       park_for(c)                      /* lost: parked for the stop asked */
    fi;
    leave(c);
    writeback(c)
}
#endif
#endif

/*
 * cpu(c): the main flow of CPU c: its guest (nondeterministic, bounded), the
 * VM exit handlers (NMI exit, NMI-window exit, the MTF exit, the quiesce
 * VMCALL: quiesce() ... endquiesce()) and vmx_prepare_entry() + VMRESUME.
 */
proctype cpu(byte c) provided (!in_handler[c] && !DELIVERABLE(c))
{
    byte t;
    bit win;                    /* v->nmi_window_wanted                       */
    bit mtf_want;               /* v->mtf_probe.armed                         */
    byte rmw;                   /* a read-modify-write's value between its
                                   vmcs_read and its vmcs_write (0: none)     */
#if STOPS > 0
    byte gen;                   /* park()'s release generation / the stop   */
#ifdef STOP_OLD_PARK
    bit won;                    /* gdb_stop(): won the CAS of reporter       */
#endif
    bit rnd;                    /* a failed round of a spin (SPIN_POLL)      */
    byte u;                     /* ask_others(), wait_others(), release_all() */
#endif

    /* ---------------- the guest (non-root) ---------------- */
end_guest:
    do
    :: !in_guest[c] -> goto exit_nmi   /* nmi_unit took an NMI VM exit */
    :: atomic { in_guest[c] && WINDOW_DUE(c) -> in_guest[c] = 0 };
       goto exit_window                /* NMI-window exit */
    :: atomic { MTF_CAN_EXIT(c) -> mtf_hw = MTF_WORKS; in_guest[c] = 0 };
       goto exit_mtf                   /* MTF exit. Any time while MTF is set
                                          (the CPU: after one instruction, or
                                          at once if the entry injected an
                                          event): the guest may run on first */
    :: atomic { MTF_CAN_EXIT(c) && mtf_hw == MTF_UNKNOWN ->
            mtf_hw = MTF_DEAD }        /* or the hardware never gives it */
    :: atomic { GUEST_RUNS(c) && guest_nmi_blocked[c] ->
            guest_nmi_blocked[c] = 0 } /* guest's NMI handler IRETs */
    :: atomic { GUEST_RUNS(c) && ipi_budget > 0 ->
            ipi_budget--;              /* guest sends an NMI IPI (to any CPU,
                                          itself included) */
            select (t : 0 .. N - 1);
            COUNT_SENT(t);
            send_nmi(t);
            t = 0 }
    :: atomic { GUEST_RUNS(c) && vmcalls[c] > 0 ->
            vmcalls[c]--;              /* the quiesce VMCALL: VM exit */
            in_guest[c] = 0 };
       goto exit_vmcall
    od;

    /* ---------------- VM exit handlers (root, NMIs unblocked) ------------ */
exit_nmi:       /* nmi_arrived() + IRET already done by nmi_unit */
    goto entry;

exit_mtf:       /* the probe's MTF exit: vapic_mtf_probe_exit() decides
                   "works" and claims it (the intercepts run on every exit
                   and clear armed: here, mtf_want is cleared already at the
                   composition, as nothing reads it in between) */
exit_window:    /* NMI-window exit; nmi_window_exit() does nothing:
                   nmi_before_entry() injects */
    entry_committed[c] = 0;     /* nmi_after_exit(), first in every exit
                                   handler (NMIs open: until here an NMI
                                   may still see the old commit and set the
                                   window bit; compose_controls() rewrites
                                   the whole field) */
    goto entry;

exit_vmcall:
    entry_committed[c] = 0;     /* nmi_after_exit() */
    /* ---- quiesce() ---- */
#if STOPS == 0
    atomic { !quiesce_lock -> quiesce_lock = 1 };  /* spin with NMIs unblocked:
                                   meanwhile nmi_unit may stop this CPU for
                                   the holder's quiesce */
#else
    /* The same spin, polling the stop: SPIN_POLL (here, in the waits below
     * and in wait_resume()). */
    do
    :: atomic { !quiesce_lock -> quiesce_lock = 1; rnd = 0 }; break
    :: atomic { quiesce_lock && !rnd -> rnd = 1 }  /* the xchg failed */
    :: SPIN_POLL(c); stop_here(c)
    od;
#endif
    stopped[c] = 1;
    quiesce_acks = 0;
#ifndef X2APIC_NO_FENCE
    quiesce_request = 1;
#endif
    t = 0;                      /* send a physical NMI to every other CPU */
    do
    :: atomic { t < N && t != c -> send_nmi(t); t++ }  /* one ICR write */
    :: t < N && t == c -> t++
    :: t == N -> t = 0; break
    od;
#ifdef X2APIC_NO_FENCE
    /* what an x2APIC ICR WRMSR without a fence allows: the NMIs overtake
     * the store of quiesce_request (WRMSR to x2APIC MSRs is not
     * serializing; the store may still sit in the store buffer) */
    quiesce_request = 1;
#endif
#if STOPS == 0
    (quiesce_acks >= N - 1);    /* wait until quiesce_acks == N-1 (never more:
                                   ACK_ASSERT) */
#else
    do                          /* the same wait, polling the stop */
    :: atomic { quiesce_acks >= N - 1 -> rnd = 0 }; break
    :: atomic { quiesce_acks < N - 1 && !rnd -> rnd = 1 }   /* a round */
    :: SPIN_POLL(c); stop_here(c)
    od;
#endif

    /* ---- the hypapp section (property 2 is asserted at both ends, and in
     * every state by mutex_monitor) ---- */
    atomic { in_section++; in_sec[c] = 1; mutex_ok = MUTEX_INV;
             assert(mutex_ok) };
#if STOPS > 0 && (STOP_AT & 2)
    if                          /* a breakpoint in the hypapp: a stop
                                   during a quiesce */
    :: atomic { stop_budget > 0 -> stop_budget--; OLD_CLEAR_ASK(c) };
       gdb_stop(c)
    :: true
    fi;
#endif
    atomic { mutex_ok = MUTEX_INV; assert(mutex_ok);
             in_sec[c] = 0; in_section-- };

    /* ---- endquiesce() ---- */
#ifndef SEED_ORDER
    quiesce_request = 0;        /* FIRST: the seed's fix */
    resume_acks = 0;
    resume_signal = 1;
#if STOPS == 0
    (resume_acks >= N - 1);     /* wait until resume_acks == N-1 */
#else
    do                          /* the same wait, polling the stop */
    :: atomic { resume_acks >= N - 1 -> rnd = 0 }; break
    :: atomic { resume_acks < N - 1 && !rnd -> rnd = 1 }    /* a round */
    :: SPIN_POLL(c); stop_here(c)
    od;
#endif
    resume_signal = 0;
#else
    resume_acks = 0;            /* the seed's (XMHF's) order */
    resume_signal = 1;
    (resume_acks >= N - 1);
    quiesce_request = 0;
    resume_signal = 0;
#endif
    stopped[c] = 0;
    quiesce_lock = 0;           /* release */
    goto entry;

    /* ---------------- vmx_prepare_entry(c), then VMRESUME ---------------- */
    /* The stages (hv/vmx/exit_table.h): STATE, CONTROLS (the MTF probe asks
     * for MTF: a want, no VMCS write), the drain, EVENTS (nmi_before_entry:
     * inject, or want the window), compose_controls() (the one write of
     * PROC_CONTROLS, from the wants), COMMIT (nmi_commit_entry), VMRESUME.
     * Model steps: (1) CONTROLS .. compose_controls(); (2) the commit with
     * the second look and, if it finds an NMI, the read of its
     * read-modify-write; (3) that write; (4) VMRESUME. Before the commit the
     * NMI handler only sets pending (it never writes the VMCS), so an NMI
     * anywhere inside step 1 acts like one just after it; STATE and the
     * drain touch nothing the model has. */
entry:
#if STOPS > 0 && (STOP_AT & 1)
    if                          /* a breakpoint in an exit handler, or the
                                   break-in poll (ENTRY_STAGE_EVENTS) */
    :: atomic { stop_budget > 0 -> stop_budget--; OLD_CLEAR_ASK(c) };
       gdb_stop(c)
    :: true
    fi;
#endif
#ifndef NO_WINDOW_FIX
    atomic {
#ifndef PROBE_AFTER_COMMIT
        /* CONTROLS, vapic_mtf_probe_arm(): while there is no verdict,
         * v->mtf_probe.armed = true. Which entries: any (an inconclusive
         * probe arms again), PROBES in all. */
        if
        :: probe_budget > 0 -> probe_budget--; mtf_want = 1
        :: true
        fi;
#endif
        /* EVENTS, nmi_before_entry():
         * if (pending && guest_can_take_nmi() && xchg(&pending, 0)) inject
         * (only this CPU's main path clears pending: a load that saw 1
         * makes the xchg return 1) */
        if
        :: nmi_pending[c] && !guest_nmi_blocked[c] ->
             nmi_pending[c] = 0; guest_nmi_blocked[c] = 1; COUNT_INJECTED(c)
        :: else
        fi;
        win = nmi_pending[c];       /* nmi_window_wanted = pending */
        /* compose_controls(): proc = base | MTF if armed | NMI_WINDOW if
         * wanted; vmcs_write(PROC_CONTROLS, proc): the whole value, once,
         * from the wants (what was in the VMCS does not matter). */
        proc_ctl[c] = (mtf_want -> PROC_MTF : 0) |
                      (win -> PROC_NMI_WINDOW : 0);
        mtf_want = 0                /* armed is cleared by the next exit
                                       (vapic_mtf_probe_exit()); nothing
                                       reads it before: cleared here, one
                                       state variable fewer */
    };
    atomic {
        /* COMMIT, nmi_commit_entry(): entry_committed = true (SEQ_CST) */
        entry_committed[c] = 1;
#ifndef NO_RECHECK
        /* the second look: an NMI between the first look and the commit
         * only set pending. Then vmcs_read(PROC_CONTROLS), the read half of
         * the read-modify-write (rmw != 0: a write to come) */
        if
        :: !win && nmi_pending[c] -> rmw = proc_ctl[c] | PROC_NMI_WINDOW
        :: else
        fi;
#endif
        win = 0
    };
#ifndef PROBE_AFTER_COMMIT
    /* The re-check's vmcs_write, a step of its own: an NMI between the read
     * and the write sets only the same bit (nmi_arrived(), committed), so
     * the write loses nothing. Without a write to make, straight to
     * VMRESUME (no extra model step). */
    if
    :: atomic { rmw != 0 -> proc_ctl[c] = rmw; rmw = 0 }
    :: atomic { rmw == 0 -> assert(!hw_blocked[c]); in_guest[c] = 1 };
       goto end_guest                                   /* VMRESUME */
    fi;
#else
    if
    :: atomic { rmw != 0 -> proc_ctl[c] = rmw; rmw = 0 }
    :: else
    fi;
    /* The old order: vapic_mtf_probe_arm() after nmi_before_entry() has
     * committed, with its own read-modify-write:
     *     vmcs_write(PROC_CONTROLS, vmcs_read(PROC_CONTROLS) | MONITOR_TRAP)
     * The read and the write are two steps: an NMI taken through the IDT in
     * between sets NMI-window exiting (entry_committed) and the write puts
     * back the value read before it. */
    if
    :: atomic { probe_budget > 0 -> probe_budget--; rmw = proc_ctl[c] };
       atomic { proc_ctl[c] = rmw | PROC_MTF; rmw = 0 }
    :: true
    fi;
#endif
#else
    /* as first specified: one decision, nobody else arms the window */
    atomic {
        if
        :: probe_budget > 0 -> probe_budget--; mtf_want = 1
        :: true
        fi;
        if
        :: nmi_pending[c] && !guest_nmi_blocked[c] ->
             nmi_pending[c] = 0; guest_nmi_blocked[c] = 1; COUNT_INJECTED(c);
             win = 0
        :: nmi_pending[c] && guest_nmi_blocked[c] ->
             win = 1
        :: else -> win = 0
        fi;
        proc_ctl[c] = (mtf_want -> PROC_MTF : 0) |
                      (win -> PROC_NMI_WINDOW : 0);
        mtf_want = 0; win = 0
    };
#endif
    /* an NMI may be taken here, in root, by the IDT handler */
    atomic { assert(!hw_blocked[c]); in_guest[c] = 1 };   /* VMRESUME */
    goto end_guest
}

/* External NMIs (QEMU inject-nmi, a watchdog): like guest IPIs, from outside */
proctype external()
{
    byte t;
end:
    do
    :: atomic { ext_budget > 0 ->
            ext_budget--;
            select (t : 0 .. N - 1);
            COUNT_SENT(t);
            send_nmi(t);
            t = 0 }
    od
}

/* Property 2, checked in every reachable state (not only at the section's
 * two ends): only enabled, and then failing, when the invariant is false. */
active proctype mutex_monitor()
{
end:
    atomic { !MUTEX_INV -> mutex_ok = MUTEX_INV; assert(mutex_ok) }
}

#ifndef NO_WINDOW_INVARIANT
/* Property 5, in every reachable state, like mutex_monitor. */
active proctype window_monitor()
{
end:
    atomic { !WINDOW_INV -> window_ok = WINDOW_INV; assert(window_ok) }
}
#endif

#if STOPS > 0
/* Property 6, in every reachable state, like mutex_monitor. */
active proctype allstop_monitor()
{
end:
    atomic { !ALLSTOP_INV -> allstop_ok = ALLSTOP_INV; assert(allstop_ok) }
}
#endif

/* Properties 1 and 3 at the end. timeout: nothing else can move. If some
 * CPU is not back in its guest, the checker stops and spin reports the
 * invalid end state (deadlock). Otherwise every CPU is idle in its guest
 * with its budgets used up, and the NMI accounting must balance. */
active proctype final_check()
{
    byte c;
    bit all_in_guest = 1;

    timeout;
    atomic {
        for (c : 0 .. N - 1) {
            all_in_guest = all_in_guest && in_guest[c]
        }
        if
        :: all_in_guest ->
            for (c : 0 .. N - 1) {
                /* nothing left undelivered although the guest could take it */
                assert(!hw_latched[c] && !nmi_pending[c] &&
                       !guest_nmi_blocked[c]);
                /* no guest NMI lost beyond the legal merges */
                assert(NONE_LOST(c));
                /* no spurious NMI (NO_SPURIOUS_CHECK: the debugger's
                 * runs that look at the rest, MODEL.md) */
#ifndef NO_SPURIOUS_CHECK
                assert(NONE_SPURIOUS(c));
#endif
#if STOPS > 0
                /* the debugger is done: nothing asked, in flight or owed */
                assert(!ASKED_END(c) && !ipi_in_flight[c] && !parked[c] &&
                       !debug_stopped[c] && !quiesce_owed[c] &&
                       in_stop[c] == 0)
#endif
            }
        :: else -> skip
        fi
    }
}

init
{
    byte c;
    atomic {
        for (c : 0 .. N - 1) {
            in_guest[c] = 1;
            if
            :: c < QCPUS -> vmcalls[c] = QCALLS
            :: else -> vmcalls[c] = 0
            fi
        }
        for (c : 0 .. N - 1) {
            run nmi_unit(c);
            run cpu(c)
        }
        run external()
    }
}
