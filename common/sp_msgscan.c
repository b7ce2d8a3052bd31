#include "sp_msgscan.h"
#include "sp_tensor.h"

#include <stdint.h>
#include <stdio.h>

#define SCAN_MAX_DEPTH 64

sp_scan_limits sp_scan_default_limits(void)
{
    sp_scan_limits l;
    l.max_container = (size_t)1 << 20;
    l.max_items = (size_t)1 << 22;
    l.max_str = (size_t)1 << 20;
    l.max_bin = sp_max_tensor_bytes();
    l.max_depth = 32;
    return l;
}

static uint64_t be(const unsigned char *p, int k)
{
    uint64_t v = 0;
    for (int i = 0; i < k; i++)
        v = (v << 8) | p[i];
    return v;
}

sp_scan_result sp_msgscan(const unsigned char *buf, size_t n, const sp_scan_limits *lim,
                          size_t *len, char *err, size_t errlen)
{
    size_t items = 0;
    return sp_msgscan_at(buf, n, lim, 0, &items, len, err, errlen);
}

sp_scan_result sp_msgscan_at(const unsigned char *buf, size_t n, const sp_scan_limits *lim,
                             int depth, size_t *items_io, size_t *len, char *err, size_t errlen)
{
    uint64_t rem[SCAN_MAX_DEPTH];
    int d = 0;
    size_t pos = 0, items = *items_io;
    int max_depth = lim->max_depth < SCAN_MAX_DEPTH ? lim->max_depth : SCAN_MAX_DEPTH;
    rem[0] = 1;
    while (d >= 0) {
        if (rem[d] == 0) {
            d--;
            continue;
        }
        rem[d]--;
        if (++items > lim->max_items) {
            snprintf(err, errlen, "more than %zu values in one map", lim->max_items);
            return SP_SCAN_INVALID;
        }
        if (pos >= n) {
            *len = pos + 1;
            return SP_SCAN_NEED_MORE;
        }
        unsigned c = buf[pos];
        size_t hdr = 1;     /* bytes of the header, type byte included */
        int lenbytes = 0;   /* big-endian length field after the type byte */
        uint64_t payload = 0, children = 0;
        int kind = 0;       /* 0 scalar, 1 str, 2 bin/ext, 3 array, 4 map */
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
        } else if (c >= 0x80 && c <= 0x8f) {
            kind = 4, children = c & 0x0f;
        } else if (c >= 0x90 && c <= 0x9f) {
            kind = 3, children = c & 0x0f;
        } else if (c >= 0xa0 && c <= 0xbf) {
            kind = 1, payload = c & 0x1f;
        } else {
            switch (c) {
            case 0xc4: kind = 2, lenbytes = 1; break;
            case 0xc5: kind = 2, lenbytes = 2; break;
            case 0xc6: kind = 2, lenbytes = 4; break;
            case 0xc7: kind = 2, lenbytes = 1, hdr = 2; break; /* + ext type byte */
            case 0xc8: kind = 2, lenbytes = 2, hdr = 2; break;
            case 0xc9: kind = 2, lenbytes = 4, hdr = 2; break;
            case 0xca: payload = 4; break;
            case 0xcb: payload = 8; break;
            case 0xcc: case 0xd0: payload = 1; break;
            case 0xcd: case 0xd1: payload = 2; break;
            case 0xce: case 0xd2: payload = 4; break;
            case 0xcf: case 0xd3: payload = 8; break;
            case 0xd4: payload = 2; break;
            case 0xd5: payload = 3; break;
            case 0xd6: payload = 5; break;
            case 0xd7: payload = 9; break;
            case 0xd8: payload = 17; break;
            case 0xd9: kind = 1, lenbytes = 1; break;
            case 0xda: kind = 1, lenbytes = 2; break;
            case 0xdb: kind = 1, lenbytes = 4; break;
            case 0xdc: kind = 3, lenbytes = 2; break;
            case 0xdd: kind = 3, lenbytes = 4; break;
            case 0xde: kind = 4, lenbytes = 2; break;
            case 0xdf: kind = 4, lenbytes = 4; break;
            default:
                snprintf(err, errlen, "invalid msgpack byte 0x%02x at offset %zu", c, pos);
                return SP_SCAN_INVALID;
            }
        }
        hdr += (size_t)lenbytes;
        if (pos + hdr > n) {
            *len = pos + hdr;
            return SP_SCAN_NEED_MORE;
        }
        if (lenbytes) {
            uint64_t v = be(buf + pos + 1, lenbytes);
            if (kind == 3 || kind == 4)
                children = v;
            else
                payload = v;
        }
        if (kind == 1 && payload > lim->max_str) {
            snprintf(err, errlen, "string of %llu bytes exceeds the limit of %zu",
                     (unsigned long long)payload, lim->max_str);
            return SP_SCAN_INVALID;
        }
        if (kind == 2 && payload > lim->max_bin) {
            snprintf(err, errlen, "binary of %llu bytes exceeds the limit of %zu (SP_MAX_BYTES)",
                     (unsigned long long)payload, lim->max_bin);
            return SP_SCAN_INVALID;
        }
        if ((kind == 3 || kind == 4) && children > lim->max_container) {
            snprintf(err, errlen, "%s of %llu elements exceeds the limit of %zu",
                     kind == 3 ? "array" : "map", (unsigned long long)children,
                     lim->max_container);
            return SP_SCAN_INVALID;
        }
        if (pos + hdr + payload > n) {
            *len = pos + hdr + (size_t)payload;
            return SP_SCAN_NEED_MORE;
        }
        pos += hdr + (size_t)payload;
        if (children) {
            if (depth + d + 1 >= max_depth) { /* depth: levels above this object */
                snprintf(err, errlen, "nesting deeper than %d", max_depth);
                return SP_SCAN_INVALID;
            }
            rem[++d] = kind == 4 ? 2 * children : children;
        }
    }
    *len = pos;
    *items_io = items;
    return SP_SCAN_COMPLETE;
}
