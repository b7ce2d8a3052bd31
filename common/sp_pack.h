/* msgpack encoding of the stream format's values, shared by the stream
 * writer and the model files (formats/stream.md: a tensor is the map
 * {"dtype", "shape", "data"}). */
#ifndef SP_PACK_H
#define SP_PACK_H

#include <msgpack.h>
#include "sp_tensor.h"

void sp_pack_str(msgpack_packer *pk, const char *s);
void sp_pack_tensor(msgpack_packer *pk, const sp_tensor *t);

#endif
