/* sp-op: runs one op of the library on every batch of a stream — how any
 * op can be probed, compared across devices, or checked against another
 * framework from any language.  The batch entries are the op's named inputs
 * (and, with --backward, the gradients "d<output>"); the outputs (or the
 * input gradients "d<input>") are added to the batch, everything else passes
 * through.  Attributes come from the header meta "attrs" and then from
 * --NAME VALUE flags. */
#include "sp_device.h"
#include "sp_error.h"
#include "sp_op.h"
#include "sp_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void list_one(const sp_op_def *op, void *ctx)
{
    (void)ctx;
    printf("%s: %s\n  inputs: %s\n  outputs: %s\n  gradients: %s\n  shapes: %s\n", op->name,
           op->summary, op->inputs, op->outputs,
           op->backward && op->diff[0] ? op->diff : "(none)", op->shapes);
    for (const sp_op_attr *a = op->attrs; a && a->name; a++)
        printf("  --%s %s (default %s): %s\n", a->name, a->type == 'n' ? "NUMBER" : "STRING",
               a->def, a->help);
}

static void usage(void)
{
    printf("usage: sp-op NAME [--ATTR VALUE ...] [--backward] [--device auto|cpu|cuda]\n"
           "       sp-op --list\n\n"
           "Runs op NAME on every batch of the stream on stdin and writes the stream with\n"
           "the op's outputs added (--backward: the gradients d<input> of its differentiable\n"
           "inputs, given the gradients d<output> in the batch).  --list names every op\n"
           "with its inputs, outputs, attributes and shapes.\n");
}

int main(int argc, char **argv)
{
    sp_set_prog(argv[0]);
    const char *name = NULL, *device = "auto";
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
    if (dev == SP_DEVICE_CUDA)
        sp_warn("%s: no CUDA kernel yet; running on the CPU", name);

    sp_reader *r = sp_reader_open(stdin, "stdin");
    sp_writer *w = sp_writer_open(stdout, "stdout");
    sp_map b = {0}, res = {0};
    int64_t idx;
    static char store[4096];
    while (sp_reader_next_stream(r)) {
        sp_op_attrs a;
        sp_op_attrs_defaults(&a, op);
        sp_op_attrs_from_meta(&a, op, sp_reader_meta(r), store, sizeof store);
        for (int i = 0; i < nattr; i++)
            sp_op_attrs_set(&a, op, attr_names[i], attr_values[i]);
        sp_map meta = {0};
        sp_map_merge(&meta, sp_reader_meta(r));
        sp_map_put_str(&meta, "producer", "sp-op");
        sp_map_put_str(&meta, "op", name);
        sp_writer_header(w, &meta);
        sp_map_free(&meta);
        while (sp_reader_next_batch(r, &b, &idx)) {
            if (backward)
                op->backward(&res, &b, &a);
            else
                op->forward(&res, &b, &a);
            /* Move the results into the batch (replacing same names). */
            for (int i = 0; i < res.n; i++) {
                sp_map_put_tensor(&b, res.e[i].name, res.e[i].tensor);
                res.e[i].tensor = NULL;
            }
            sp_map_clear(&res);
            sp_writer_batch(w, &b);
        }
        sp_writer_end(w);
    }
    sp_writer_close(w);
    sp_reader_close(r);
    sp_map_free(&b);
    sp_map_free(&res);
    return 0;
}
