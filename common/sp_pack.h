/* msgpack encoding of the stream format's values, shared by the stream
 * writer and the model files (formats/stream.md: a tensor is the map
 * {"dtype", "shape", "data"}), and the two checks every reader of them
 * makes (stream reader, model files, checkpoint sections). */
#ifndef SP_PACK_H
#define SP_PACK_H

#include <msgpack.h>
#include "sp_tensor.h"

void sp_pack_str(msgpack_packer *pk, const char *s);
void sp_pack_tensor(msgpack_packer *pk, const sp_tensor *t);

/* Whether o is the string s. */
int sp_obj_str_is(const msgpack_object *o, const char *s);
/* o as an int64 into *v: 0, or -1 when o is not an integer that fits. */
int sp_obj_int(const msgpack_object *o, int64_t *v);

#endif
