/* Registry entries of the geometry ops: grids, grid_sample, transformations. */
#include "sp_op.h"

const sp_op_def sp_ops_geom[] = {{0}};
