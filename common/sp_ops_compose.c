/* Registry entries of composition, loss, optimiser and initialisation ops. */
#include "sp_op.h"

const sp_op_def sp_ops_compose[] = {{0}};
