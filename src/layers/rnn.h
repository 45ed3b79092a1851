/* What the LSTM, GRU and SimpleRNN layers share (src/layers/rnn.c): the
 * configuration, argument checks, input and output shapes (return_state
 * outputs), the emitted op with its mask and dropout, and the common part of
 * the saved config. */
#ifndef LM_LAYERS_RNN_H
#define LM_LAYERS_RNN_H

#include "layers/layer.h"
#include "ops/ops.h"

typedef struct lml_rnn_cfg {
  int units, act, rec_act;
  int n_states; /* 2 LSTM (h, c), 1 SimpleRNN and GRU */
  bool use_bias, unit_forget_bias, return_sequences, return_state, go_backwards;
  bool reset_after; /* GRU */
  float dropout, recurrent_dropout;
  char kernel_init[32], rec_init[32], bias_init[32];
} lml_rnn_cfg;

/* The op constructor of the layer (lmo_lstm_ex, lmo_simple_rnn_ex, lmo_gru_ex). */
typedef int (*lml_rnn_op_fn)(lmg_graph *g, int x, int w, int r, int b, int mask,
                             const lmo_rnn_args *a, const lmo_rnn_more *more);

/* Checked options into a new layer of class cls with an lml_rnn_cfg. */
lm_layer *lml_rnn_new(lm_ctx *ctx, const lml_class *cls, int units, const lm_rnn_opts *o,
                      const char *default_rec, int n_states);
lm_status lml_rnn_check_input(lm_layer *l, const lm_shape *in);
/* Keras' initial_state: inputs 1 .. n_in-1 of a call are the initial states,
 * none or exactly n_states of them, each float32 (batch, units). */
lm_status lml_rnn_check_states(lm_layer *l, int n_in, const lm_shape *in);
/* The sequence (or last) output's shape of a recurrent layer whose kernel is weight 0
 * (LSTM, SimpleRNN, GRU); errors name the layer and the shape. */
lm_status lml_rnn_seq_shape(lm_layer *l, const lm_shape *in, int units, bool return_sequences,
                            lm_shape *out);
lm_status lml_rnn_out_shape(lm_layer *l, int n_in, const lm_shape *in, lm_shape *out);
int lml_rnn_n_outputs(const lm_layer *l);
/* The op on in[0] with the initial states in[1 .. n_in-1] (if any). */
lm_status lml_rnn_emit(lm_layer *l, lmg_graph *g, int n_in, const int *in, int *out,
                       lml_rnn_op_fn op);
/* ", \"return_sequences\": ..., \"units\": N, \"activation\": ..." */
void lml_rnn_config_head(const lm_layer *l, lm_buf *b);
/* A rate as Python prints a float ("0.0", "0.25"). */
void lml_rnn_write_rate(lm_buf *b, float v);
/* Options from a saved config (strings point into cfg). */
lm_rnn_opts lml_rnn_opts_from_config(const lmj_value *cfg, const char *name,
                                     const char *default_rec);

#endif
