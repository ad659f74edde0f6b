/* The register table (from rsp_regs.def) and the target description gdb
 * reads with qXfer:features:read:target.xml, generated from the same
 * table so the `g` layout and the XML cannot disagree. */
#include <string.h>
#include "gdbstub/rsp_internal.h"

const struct rsp_reg_info rsp_regs[RSP_NREGS] = {
#define RSP_REG(id, name, bits, type, group, feature) { name, bits, type, group, feature },
#include "gdbstub/rsp_regs.def"
#undef RSP_REG
};

/* gdb's i386_eflags flags type (as in its features/i386/64bit-core.xml):
 * the core's eflags register names it, so the core feature defines it. */
static const struct { const char *name; uint8_t bit; } eflags_bits[] = {
    { "CF", 0 }, { "", 1 }, { "PF", 2 }, { "AF", 4 }, { "ZF", 6 }, { "SF", 7 },
    { "TF", 8 }, { "IF", 9 }, { "DF", 10 }, { "OF", 11 }, { "NT", 14 },
    { "RF", 16 }, { "VM", 17 }, { "AC", 18 }, { "VIF", 19 }, { "VIP", 20 },
    { "ID", 21 },
};

/* Room for today's ~5 KiB with margin; rsp_target_xml returns an empty
 * description (and the unit test fails) rather than overrun it. */
#define XML_CAP 8192
static char xml[XML_CAP];
static size_t xml_len;
static bool xml_overflow;

static void xs(const char *s)
{
    size_t n = strlen(s);

    if (xml_len + n >= XML_CAP) {
        xml_overflow = true;
        return;
    }
    memcpy(xml + xml_len, s, n);
    xml_len += n;
}

static void xnum(unsigned v)
{
    char d[12];
    int i = (int)sizeof d - 1;

    d[i] = 0;
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    xs(d + i);
}

static void xml_eflags(void)
{
    size_t i;

    xs("<flags id=\"i386_eflags\" size=\"4\">\n");
    for (i = 0; i < sizeof eflags_bits / sizeof eflags_bits[0]; i++) {
        xs("<field name=\"");
        xs(eflags_bits[i].name);
        xs("\" start=\"");
        xnum(eflags_bits[i].bit);
        xs("\" end=\"");
        xnum(eflags_bits[i].bit);
        xs("\"/>\n");
    }
    xs("</flags>\n");
}

/* Opens a feature; defines the flags type if one of its registers uses it. */
static void xml_feature(int first)
{
    int i;

    xs("<feature name=\"");
    xs(rsp_regs[first].feature);
    xs("\">\n");
    for (i = first; i < RSP_NREGS && !strcmp(rsp_regs[i].feature, rsp_regs[first].feature); i++)
        if (!strcmp(rsp_regs[i].type, "i386_eflags")) {
            xml_eflags();
            break;
        }
}

static void xml_reg(const struct rsp_reg_info *g)
{
    xs("<reg name=\"");
    xs(g->name);
    xs("\" bitsize=\"");
    xnum(g->bits);
    xs("\" type=\"");
    xs(g->type);
    if (g->group) {
        xs("\" group=\"");
        xs(g->group);
    }
    xs("\"/>\n");
}

static void xml_build(void)
{
    int i;

    xml_len = 0;
    xs("<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
       "<target version=\"1.0\">\n<architecture>i386:x86-64</architecture>\n");
    for (i = 0; i < RSP_NREGS; i++) {
        if (i == 0 || strcmp(rsp_regs[i].feature, rsp_regs[i - 1].feature)) {
            if (i)
                xs("</feature>\n");
            xml_feature(i);
        }
        xml_reg(&rsp_regs[i]);
    }
    xs("</feature>\n</target>\n");
    if (xml_overflow)
        xml_len = 0;
    xml[xml_len] = 0;
}

const char *rsp_target_xml(size_t *len)
{
    if (!xml_len && !xml_overflow)
        xml_build();
    *len = xml_len;
    return xml;
}
