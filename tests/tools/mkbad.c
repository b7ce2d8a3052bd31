/* mkbad KIND: writes a stream (good or broken in one specific way) on
 * stdout, for the CLI tests of every stream-reading program.
 * `mkbad --list` names the kinds. */
#include "sp_stream.h"

#include <msgpack.h>
#include <msgpack/fbuffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static msgpack_packer pk;

static void str(const char *s)
{
    msgpack_pack_str(&pk, strlen(s));
    msgpack_pack_str_body(&pk, s, strlen(s));
}

static void raw(const unsigned char *b, size_t n) { fwrite(b, 1, n, stdout); }

static void header(void)
{
    msgpack_pack_map(&pk, 1);
    str("sprites");
    msgpack_pack_int(&pk, 1);
}

static void trailer(int n)
{
    msgpack_pack_map(&pk, 1);
    str("end");
    msgpack_pack_int(&pk, n);
}

/* A tensor map with explicit (possibly wrong) parts. */
static void tensor(const char *dtype, int ndim, const long long *shape, size_t nbytes)
{
    msgpack_pack_map(&pk, 3);
    str("dtype");
    str(dtype);
    str("shape");
    msgpack_pack_array(&pk, (size_t)ndim);
    for (int i = 0; i < ndim; i++)
        msgpack_pack_long_long(&pk, shape[i]);
    str("data");
    msgpack_pack_bin(&pk, nbytes);
    char *zero = calloc(1, nbytes ? nbytes : 1);
    msgpack_pack_bin_body(&pk, zero, nbytes);
    free(zero);
}

static void batch_with(int index, const char *dtype, int ndim, const long long *shape, size_t nbytes)
{
    msgpack_pack_map(&pk, 2);
    str("batch");
    msgpack_pack_int(&pk, index);
    str("image");
    tensor(dtype, ndim, shape, nbytes);
}

/* image f32 [2,1,2,2] plus label / pred_label i32 [2], so that every
 * reader (sp-eval included) has something to consume. */
static void good_batch(int index)
{
    static const long long s[4] = {2, 1, 2, 2}, l[1] = {2};
    msgpack_pack_map(&pk, 4);
    str("batch");
    msgpack_pack_int(&pk, index);
    str("image");
    tensor("f32", 4, s, 2 * 1 * 2 * 2 * 4);
    str("label");
    tensor("i32", 1, l, 8);
    str("pred_label");
    tensor("i32", 1, l, 8);
}

static const char *kinds[] = {
    "good", "empty-stream", "wrong-dtype", "size-mismatch", "negative-dim", "huge-dim",
    "huge-shape", "too-many-dims", "no-trailer", "wrong-count", "out-of-order", "huge-map",
    "huge-array", "huge-bin", "huge-str", "not-a-map", "no-header", "version-2", "deep-nesting",
    "int-key", "tensor-extra-key", "data-not-bin", "garbage", "two-streams", "header-twice",
    "duplicate-entry", NULL};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkbad KIND | --list\n");
        return 2;
    }
    const char *k = argv[1];
    if (strcmp(k, "--list") == 0) {
        for (int i = 0; kinds[i]; i++)
            puts(kinds[i]);
        return 0;
    }
    msgpack_packer_init(&pk, stdout, msgpack_fbuffer_write);
    if (strcmp(k, "good") == 0 || strcmp(k, "two-streams") == 0) {
        int reps = strcmp(k, "good") == 0 ? 1 : 2;
        for (int r = 0; r < reps; r++) {
            header();
            good_batch(0);
            good_batch(1);
            trailer(2);
        }
    } else if (strcmp(k, "empty-stream") == 0) {
        header();
        trailer(0);
    } else if (strcmp(k, "wrong-dtype") == 0) {
        static const long long s[1] = {4};
        header();
        batch_with(0, "f16", 1, s, 8);
        trailer(1);
    } else if (strcmp(k, "size-mismatch") == 0) {
        static const long long s[4] = {2, 3, 4, 4};
        header();
        batch_with(0, "f32", 4, s, 10);
        trailer(1);
    } else if (strcmp(k, "negative-dim") == 0) {
        static const long long s[2] = {-1, 3};
        header();
        batch_with(0, "f32", 2, s, 0);
        trailer(1);
    } else if (strcmp(k, "huge-dim") == 0) {
        static const long long s[1] = {1LL << 40};
        header();
        batch_with(0, "u8", 1, s, 0);
        trailer(1);
    } else if (strcmp(k, "huge-shape") == 0) {
        static const long long s[3] = {65536, 65536, 65536};
        header();
        batch_with(0, "f32", 3, s, 16);
        trailer(1);
    } else if (strcmp(k, "too-many-dims") == 0) {
        static const long long s[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
        header();
        batch_with(0, "f32", 9, s, 4);
        trailer(1);
    } else if (strcmp(k, "no-trailer") == 0) {
        header();
        good_batch(0);
    } else if (strcmp(k, "wrong-count") == 0) {
        header();
        good_batch(0);
        trailer(5);
    } else if (strcmp(k, "out-of-order") == 0) {
        header();
        good_batch(1);
        trailer(1);
    } else if (strcmp(k, "huge-map") == 0) {
        static const unsigned char b[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'x'};
        raw(b, sizeof b);
    } else if (strcmp(k, "huge-array") == 0) {
        static const unsigned char b[] = {0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01};
        header();
        msgpack_pack_map(&pk, 2);
        str("batch");
        msgpack_pack_int(&pk, 0);
        str("x");
        fflush(stdout);
        raw(b, sizeof b);
    } else if (strcmp(k, "huge-bin") == 0) {
        /* claims 4 GiB - 1 bytes of data, supplies 4 */
        static const unsigned char b[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4};
        header();
        msgpack_pack_map(&pk, 2);
        str("batch");
        msgpack_pack_int(&pk, 0);
        str("x");
        fflush(stdout);
        raw(b, sizeof b);
    } else if (strcmp(k, "huge-str") == 0) {
        static const unsigned char b[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'};
        header();
        fflush(stdout);
        raw(b, sizeof b);
    } else if (strcmp(k, "not-a-map") == 0) {
        msgpack_pack_int(&pk, 42);
    } else if (strcmp(k, "no-header") == 0) {
        good_batch(0);
        trailer(1);
    } else if (strcmp(k, "version-2") == 0) {
        msgpack_pack_map(&pk, 1);
        str("sprites");
        msgpack_pack_int(&pk, 2);
        trailer(0);
    } else if (strcmp(k, "deep-nesting") == 0) {
        header();
        msgpack_pack_map(&pk, 2);
        str("batch");
        msgpack_pack_int(&pk, 0);
        str("x");
        for (int i = 0; i < 200; i++)
            msgpack_pack_array(&pk, 1);
        msgpack_pack_nil(&pk);
        trailer(1);
    } else if (strcmp(k, "int-key") == 0) {
        header();
        msgpack_pack_map(&pk, 2);
        str("batch");
        msgpack_pack_int(&pk, 0);
        msgpack_pack_int(&pk, 7);
        msgpack_pack_int(&pk, 7);
        trailer(1);
    } else if (strcmp(k, "tensor-extra-key") == 0) {
        header();
        msgpack_pack_map(&pk, 2);
        str("batch");
        msgpack_pack_int(&pk, 0);
        str("image");
        msgpack_pack_map(&pk, 4);
        str("dtype");
        str("u8");
        str("shape");
        msgpack_pack_array(&pk, 1);
        msgpack_pack_int(&pk, 1);
        str("data");
        msgpack_pack_bin(&pk, 1);
        msgpack_pack_bin_body(&pk, "x", 1);
        str("extra");
        msgpack_pack_int(&pk, 1);
        trailer(1);
    } else if (strcmp(k, "data-not-bin") == 0) {
        header();
        msgpack_pack_map(&pk, 2);
        str("batch");
        msgpack_pack_int(&pk, 0);
        str("image");
        msgpack_pack_map(&pk, 3);
        str("dtype");
        str("u8");
        str("shape");
        msgpack_pack_array(&pk, 1);
        msgpack_pack_int(&pk, 1);
        str("data");
        str("x");
        trailer(1);
    } else if (strcmp(k, "garbage") == 0) {
        unsigned s = 12345;
        for (int i = 0; i < 4096; i++) {
            s = s * 1103515245u + 12345u;
            putchar((int)(s >> 16) & 0xff);
        }
    } else if (strcmp(k, "header-twice") == 0) {
        header();
        good_batch(0);
        header();
        trailer(1);
    } else if (strcmp(k, "duplicate-entry") == 0) {
        static const long long s[1] = {1};
        header();
        msgpack_pack_map(&pk, 3);
        str("batch");
        msgpack_pack_int(&pk, 0);
        str("image");
        tensor("u8", 1, s, 1);
        str("image");
        tensor("u8", 1, s, 1);
        trailer(1);
    } else {
        fprintf(stderr, "mkbad: unknown kind %s\n", k);
        return 2;
    }
    fflush(stdout);
    return 0;
}
