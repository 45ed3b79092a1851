/* The list of every op kind (the gradient-check table must cover each) and
 * small helpers shared by the op files. */
#include "ops/ops.h"
#include "ops/spatial.h"
#include "ops/conv_ops.h"
#include "ops/rnn.h"

const lm_op *const lmo_registry[] = {
    &lmo_op_matmul,     &lmo_op_binary,    &lmo_op_unary,   &lmo_op_clip,    &lmo_op_affine,
    &lmo_op_activation, &lmo_op_softmax,   &lmo_op_reduce,  &lmo_op_reshape, &lmo_op_concat,
    &lmo_op_slice,      &lmo_op_transpose, &lmo_op_dropout, &lmo_op_take,    &lmo_op_custom,
    &lmo_op_embedding, &lmo_op_lstm, &lmo_op_conv1d, &lmo_op_pool1d, &lmo_op_simple_rnn, /* issue 5 */
    &lmo_op_conv2d,    &lmo_op_pool2d, &lmo_op_global_pool, &lmo_op_batchnorm, /* issue 4 */
    &lmo_op_depthwise, &lmo_op_pointwise, &lmo_op_pad2d, &lmo_op_upsample2d,
    &lmo_op_relu_ex, &lmo_op_conv2d_transpose, /* issue 4: depthwise, spatial */
    &lmo_op_gru, &lmo_op_reverse_time, &lmo_op_fold_time, &lmo_op_unfold_time, /* issue 5: gru, time_axis */
    &lmo_op_rnn_seq, /* issue 5: return_state (ops/rnn.c) */
};
const int lmo_registry_n = (int)(sizeof lmo_registry / sizeof lmo_registry[0]);

lm_status lmo_check_f32(lmg_graph *g, const lmg_node *n) {
  for (int i = 0; i < n->n_in; i++) {
    const lmg_node *x = lmg_in(g, n, i);
    if (x->dtype != LM_FLOAT32) {
      char s[128];
      lm_shape_str(x->ndim, x->shape, s, sizeof s);
      return lm_fail(g->ctx, LM_ERR_ARG, "%s expects float32 inputs, but input %d is %s %s",
                     n->op->name, i, lm_dtype_name(x->dtype), s);
    }
  }
  return LM_OK;
}
