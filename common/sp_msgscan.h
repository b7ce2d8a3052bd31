/* A guard in front of msgpack-c's unpacker.
 *
 * msgpack_unpacker allocates whatever a map or array header claims before
 * any element arrives (8 bytes can ask for 256 GiB), so raw bytes are walked
 * here first: the scanner checks every container count, string and binary
 * length against limits and tells whether one complete top-level object is
 * in the buffer.  Only then is the unpacker called. */
#ifndef SP_MSGSCAN_H
#define SP_MSGSCAN_H

#include <stddef.h>

typedef struct {
    size_t max_container; /* elements of one array, or pairs of one map */
    size_t max_items;     /* objects in one top-level object */
    size_t max_str;       /* bytes of one string */
    size_t max_bin;       /* bytes of one binary / ext payload */
    int max_depth;        /* nesting */
} sp_scan_limits;

typedef enum { SP_SCAN_COMPLETE, SP_SCAN_NEED_MORE, SP_SCAN_INVALID } sp_scan_result;

/* Default limits for streams (max_bin = sp_max_tensor_bytes()). */
sp_scan_limits sp_scan_default_limits(void);

/* Scans buf[0..n).  COMPLETE: *len = the object's size.  NEED_MORE: *len = a
 * size the buffer must reach before scanning again is worthwhile (at least
 * n + 1).  INVALID: err holds the reason. */
sp_scan_result sp_msgscan(const unsigned char *buf, size_t n, const sp_scan_limits *lim,
                          size_t *len, char *err, size_t errlen);

/* The same for one object nested depth levels inside a top-level object
 * (depth 0: the top-level object itself), so that a reader can scan a large
 * map value by value with the limits of the whole map: *items_io counts the
 * objects of the top-level object seen so far and is advanced only on
 * COMPLETE. */
sp_scan_result sp_msgscan_at(const unsigned char *buf, size_t n, const sp_scan_limits *lim,
                             int depth, size_t *items_io, size_t *len, char *err, size_t errlen);

#endif
