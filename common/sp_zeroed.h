#ifndef SP_ZEROED_H
#define SP_ZEROED_H
#include <stddef.h>

/* Zeroed memory of its own mapping: a page costs nothing until written.
 * calloc gives a large block from the heap where one was freed before and
 * must then clear all of it: an inference encoder's parameter and gradient
 * arenas (horse's ResNet-18: 2 x 43.6 MB, of which it writes the batch
 * norms only; its convolution weights are kept packed) had every page
 * cleared in each sp-predict.  Never returns NULL (a failure is fatal);
 * free with the same byte count.  (Under AddressSanitizer: the heap.) */
void *sp_zeroed_alloc(size_t bytes);
void sp_zeroed_free(void *p, size_t bytes);

#endif
