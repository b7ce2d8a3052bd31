/* Stream writer -> reader round trips (tensors of every dtype, raw values,
 * meta, concatenated streams, zero-size tensors) and the raw-byte scanner on
 * every prefix of valid objects and on hostile headers. */
#define _GNU_SOURCE
#include "sp_test.h"
#include "sp_error.h"
#include "sp_msgscan.h"
#include "sp_stream.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

static sp_tensor *ramp(sp_dtype dt, int ndim, const int64_t *shape)
{
    sp_tensor *t = sp_tensor_new(dt, ndim, shape);
    for (size_t i = 0; i < sp_tensor_numel(t); i++)
        sp_tensor_set(t, i, (double)(i % 200) - (dt == SP_U8 ? 0 : 50) + (dt <= SP_F64 ? 0.25 : 0));
    return t;
}

static void roundtrip(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sp_writer *w = sp_writer_open(f, "memory");
    sp_map meta = {0}, b = {0};
    sp_map_put_str(&meta, "producer", "test");
    sp_map_put_int(&meta, "count", -7);
    sp_writer_header(w, &meta);
    static const int64_t shapes[5][4] = {{2, 3, 4, 5}, {3, 2}, {7}, {1, 1, 1}, {0, 4}};
    static const int ndims[5] = {4, 2, 1, 3, 2};
    for (int k = 0; k < 3; k++) {
        for (int d = 0; d < SP_NDTYPES; d++) {
            char name[16];
            snprintf(name, sizeof name, "t%d", d);
            sp_map_put_tensor(&b, name, ramp((sp_dtype)d, ndims[d], shapes[d]));
        }
        sp_map_put_double(&b, "loss", 0.5 * k);
        sp_map_put_str(&b, "note", "pass me through");
        sp_writer_batch(w, &b);
        sp_map_clear(&b);
    }
    sp_writer_end(w);
    sp_writer_header(w, NULL); /* a second, concatenated stream with no batches */
    sp_writer_end(w);
    sp_writer_close(w);
    fclose(f);

    FILE *in = fmemopen(buf, len, "rb");
    sp_reader *r = sp_reader_open(in, "memory");
    CHECK("first stream header", sp_reader_next_stream(r) == 1, "no header");
    char s[32] = "";
    int64_t cnt = 0;
    CHECK("meta string", sp_map_get_str(sp_reader_meta(r), "producer", s, sizeof s) == 0 &&
                             strcmp(s, "test") == 0, "got '%s'", s);
    CHECK("meta negative int", sp_map_get_int(sp_reader_meta(r), "count", &cnt) == 0 && cnt == -7,
          "got %lld", (long long)cnt);
    int64_t idx;
    int batches = 0, same = 1;
    while (sp_reader_next_batch(r, &b, &idx)) {
        same &= idx == batches;
        for (int d = 0; d < SP_NDTYPES; d++) {
            char name[16];
            snprintf(name, sizeof name, "t%d", d);
            sp_tensor *t = sp_map_tensor(&b, name), *want = ramp((sp_dtype)d, ndims[d], shapes[d]);
            same &= t && t->dtype == (sp_dtype)d && t->ndim == want->ndim &&
                    t->nbytes == want->nbytes && memcmp(t->data, want->data, t->nbytes) == 0;
            for (int i = 0; t && i < t->ndim; i++)
                same &= t->shape[i] == want->shape[i];
            sp_tensor_free(want);
        }
        double loss = -1;
        same &= sp_map_get_double(&b, "loss", &loss) == 0 && loss == 0.5 * batches;
        same &= sp_map_get_str(&b, "note", s, sizeof s) == 0 && strcmp(s, "pass me through") == 0;
        batches++;
    }
    CHECK("3 batches of every dtype and raw values survive", same && batches == 3,
          "batches %d same %d", batches, same);
    CHECK("concatenated second stream", sp_reader_next_stream(r) == 1, "missing");
    CHECK("second stream is empty", sp_reader_next_batch(r, &b, &idx) == 0, "has a batch");
    CHECK("clean end of input", sp_reader_next_stream(r) == 0, "more streams");
    CHECK("bytes counted", sp_reader_bytes(r) == len, "%zu of %zu", sp_reader_bytes(r), len);
    sp_reader_close(r);
    fclose(in);
    sp_map_free(&b);
    sp_map_free(&meta);
    free(buf);
}

static void scanner_prefixes(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* A map using every msgpack family the scanner distinguishes. */
    msgpack_pack_map(&pk, 9);
    msgpack_pack_str(&pk, 1), msgpack_pack_str_body(&pk, "a", 1);
    msgpack_pack_int64(&pk, -1234567890123LL);
    msgpack_pack_str(&pk, 40), msgpack_pack_str_body(&pk, "0123456789012345678901234567890123456789", 40);
    msgpack_pack_double(&pk, 1.5);
    msgpack_pack_str(&pk, 1), msgpack_pack_str_body(&pk, "b", 1);
    msgpack_pack_bin(&pk, 300);
    for (int i = 0; i < 300; i++)
        msgpack_sbuffer_write(&sb, "x", 1);
    msgpack_pack_str(&pk, 1), msgpack_pack_str_body(&pk, "c", 1);
    msgpack_pack_array(&pk, 20);
    for (int i = 0; i < 20; i++)
        msgpack_pack_uint64(&pk, (uint64_t)i << 40);
    msgpack_pack_str(&pk, 1), msgpack_pack_str_body(&pk, "d", 1);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk), msgpack_pack_float(&pk, 2.0f);
    msgpack_pack_int8(&pk, -3), msgpack_pack_uint16(&pk, 60000);
    msgpack_pack_ext(&pk, 4, 7), msgpack_pack_ext_body(&pk, "abcd", 4);
    msgpack_pack_map(&pk, 0);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_int32(&pk, 5);
    sp_scan_limits lim = sp_scan_default_limits();
    size_t len;
    char err[128];
    int prefixes_ok = 1;
    for (size_t n = 0; n < sb.size; n++) {
        sp_scan_result res = sp_msgscan((unsigned char *)sb.data, n, &lim, &len, err, sizeof err);
        prefixes_ok &= res == SP_SCAN_NEED_MORE && len > n && len <= sb.size;
    }
    CHECK("scanner: every prefix needs more (and says how much, within the object)", prefixes_ok, "bad");
    sp_scan_result res = sp_msgscan((unsigned char *)sb.data, sb.size, &lim, &len, err, sizeof err);
    CHECK("scanner: whole object complete at its exact length", res == SP_SCAN_COMPLETE && len == sb.size,
          "res %d len %zu of %zu", res, len, sb.size);
    msgpack_sbuffer_destroy(&sb);

    static const unsigned char map32[] = {0xdf, 0x10, 0, 0, 0};
    static const unsigned char arr16[] = {0x81, 0xa1, 'x', 0xdc, 0xff, 0xff};
    static const unsigned char bad[] = {0xc1};
    lim.max_container = 1000;
    CHECK("scanner: huge map claim refused before any element",
          sp_msgscan(map32, sizeof map32, &lim, &len, err, sizeof err) == SP_SCAN_INVALID, "accepted");
    CHECK("scanner: huge nested array refused",
          sp_msgscan(arr16, sizeof arr16, &lim, &len, err, sizeof err) == SP_SCAN_INVALID, "accepted");
    CHECK("scanner: reserved byte 0xc1 refused",
          sp_msgscan(bad, sizeof bad, &lim, &len, err, sizeof err) == SP_SCAN_INVALID, "accepted");
}

int main(void)
{
    sp_set_prog("test_stream");
    roundtrip();
    scanner_prefixes();
    TEST_MAIN_END;
}
