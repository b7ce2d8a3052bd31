/* sp-op: runs one op of the library on every batch of a stream — how any
 * op can be probed, compared across devices, or checked against another
 * framework from any language.  The batch entries are the op's named inputs
 * (and, with --backward, the gradients "d<output>"); the outputs (or the
 * input gradients "d<input>") are added to the batch, everything else passes
 * through.  Attributes come from the header meta "attrs" and then from
 * --NAME VALUE flags. */
#include "sp_start.h"
#include "sp_device.h"
#include "sp_error.h"
#include "sp_filter.h"
#include "sp_op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void list_one(const sp_op_def *op, void *ctx)
{
    (void)ctx;
    printf("%s: %s\n  inputs: %s\n  outputs: %s\n  gradients: %s\n  shapes: %s\n", op->name,
           op->summary, op->inputs, op->outputs,
           op->backward && op->diff[0] ? op->diff : "(none)", op->shapes);
    printf("  cuda: %s\n", sp_op_cuda_coverage(op));
    for (const sp_op_attr *a = op->attrs; a && a->name; a++)
        printf("  --%s %s (default %s): %s\n", a->name, a->type == 'n' ? "NUMBER" : "STRING",
               a->def, a->help);
}

static void usage(void)
{
    printf("usage: sp-op NAME [--ATTR VALUE ...] [--backward] [--device auto|cpu|cuda]\n"
           "             [--drop NAME[,NAME...]]\n"
           "       sp-op --list\n\n"
           "Runs op NAME on every batch of the stream on stdin and writes the stream with\n"
           "the op's outputs added (--backward: the gradients d<input> of its differentiable\n"
           "inputs, given the gradients d<output> in the batch).  --list names every op\n"
           "with its inputs, outputs, attributes and shapes.  --drop removes those entries\n"
           "from every output batch (a name not in a batch is ignored).\n");
}

/* The op, its command-line attributes, and the attributes of the current stream. */
typedef struct {
    const sp_op_def *op;
    int backward, nattr, device;
    const char **attr_names, **attr_values;
    sp_op_attrs a;
    char store[4096]; /* string attribute values from the meta */
} op_stage;

/* Attributes: the op's defaults, then the header meta's "attrs", then the flags. */
static void on_stream(const sp_map *in, sp_map *out, void *ctx)
{
    op_stage *s = ctx;
    sp_op_attrs_defaults(&s->a, s->op);
    sp_op_attrs_from_meta(&s->a, s->op, in, s->store, sizeof s->store);
    for (int i = 0; i < s->nattr; i++)
        sp_op_attrs_set(&s->a, s->op, s->attr_names[i], s->attr_values[i]);
    sp_map_put_str(out, "op", s->op->name);
}

/* Runs the op on one batch and moves its results into the batch. */
static void op_batch(sp_map *b, int64_t idx, void *ctx)
{
    (void)idx;
    const op_stage *s = ctx;
    sp_map res = {0};
    sp_op_run(s->op, s->device, s->backward, &res, b, &s->a);
    for (int i = 0; i < res.n; i++) {
        sp_map_put_tensor(b, res.e[i].name, res.e[i].tensor);
        res.e[i].tensor = NULL;
    }
    sp_map_free(&res);
}

int main(int argc, char **argv)
{
    sp_main_start(argv);
    const char *name = NULL, *device = "auto", *drop = NULL;
    int backward = 0;
    const char *attr_names[SP_OP_MAX_ATTRS], *attr_values[SP_OP_MAX_ATTRS];
    int nattr = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            usage();
            return 0;
        } else if (!strcmp(s, "--list")) {
            sp_op_foreach(list_one, NULL);
            return 0;
        } else if (!strcmp(s, "--backward")) {
            backward = 1;
        } else if (!strcmp(s, "--device")) {
            if (i + 1 >= argc)
                sp_fatal("--device: missing value (auto, cpu or cuda)");
            device = argv[++i];
        } else if (!strcmp(s, "--drop")) {
            if (i + 1 >= argc)
                sp_fatal("--drop: missing value (entry names, comma-separated)");
            drop = argv[++i];
        } else if (s[0] == '-' && s[1] == '-') {
            if (i + 1 >= argc)
                sp_fatal("%s: missing value", s);
            if (nattr == SP_OP_MAX_ATTRS)
                sp_fatal("%s: too many attributes", s);
            attr_names[nattr] = s + 2;
            attr_values[nattr++] = argv[++i];
        } else if (s[0] == '-') {
            sp_fatal("%s: unknown option (see --help)", s);
        } else if (!name) {
            name = s;
        } else {
            sp_fatal("%s: unexpected argument (one op name)", s);
        }
    }
    if (!name)
        sp_fatal("expected an op name (sp-op --list names them)");
    const sp_op_def *op = sp_op_find(name);
    if (!op)
        sp_fatal("%s: unknown op (sp-op --list names them)", name);
    if (backward && !op->backward)
        sp_fatal("%s: --backward: this op has no backward", name);
    sp_op_attrs base;
    sp_op_attrs_defaults(&base, op);
    for (int i = 0; i < nattr; i++)
        sp_op_attrs_set(&base, op, attr_names[i], attr_values[i]); /* checks names early */
    sp_device dev = sp_device_resolve(device);
    if (dev == SP_DEVICE_CUDA) {
        const sp_op_impl *impl = sp_op_cuda_find(name);
        if (!impl || !(backward ? impl->backward : impl->forward))
            sp_warn("%s: no CUDA implementation of its %s; running on the CPU", name,
                    backward ? "backward" : "forward");
    }

    static op_stage st;
    st.op = op;
    st.backward = backward;
    st.device = dev == SP_DEVICE_CUDA;
    st.nattr = nattr;
    st.attr_names = attr_names;
    st.attr_values = attr_values;
    sp_filter f = {"sp-op", on_stream, op_batch, &st, drop};
    sp_filter_run(&f);
    return 0;
}
