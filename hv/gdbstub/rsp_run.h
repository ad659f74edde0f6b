/* Between rsp_cmds.c (the table, state packets) and rsp_run.c (execution
 * control, the stop reply, session packets). Internal to the core. */
#ifndef HV_GDBSTUB_RSP_RUN_H
#define HV_GDBSTUB_RSP_RUN_H
#include "gdbstub/rsp_internal.h"

/* rsp_cmds.c */
bool rsp_thread_alive(const struct rsp *r, int tid);
int rsp_pick_thread(const struct rsp *r, int sel);
bool rsp_cur_tid(struct rsp_cur *c, int *tid);
void rsp_malformed(struct rsp *r);          /* counted, E01 */
void rsp_send_result(struct rsp *r, int err);

/* rsp_run.c: command handlers (the cursor is just past the name). */
void rsp_cmd_why(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_c(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_s(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_C(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_S(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_vcont_query(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_vcont(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_Z(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_z(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_qattached(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_qoffsets(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_D(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_k(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_qrcmd(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_qxfer_features(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_qsupported(struct rsp *r, struct rsp_cur *c);
void rsp_cmd_noack(struct rsp *r, struct rsp_cur *c);

#endif
